"""Lifecycle stages: one row per rule and boundary, input checks, and properties of the table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifetide.models.lifecycle import (
    HEALTH,
    STAGES,
    LifecycleThresholds,
    expected_gap,
    lifecycle_stages,
    stage_counts,
)

NAN = float("nan")
FIELDS = ("orders", "recency_days", "tenure_days", "p_alive", "expected_gap_days", "spend")
# A healthy repeat buyer; each case below changes a few fields.
BASE = {
    "orders": 2,
    "recency_days": 10,
    "tenure_days": 300,
    "p_alive": 0.9,
    "expected_gap_days": 30,
    "spend": 100,
}
# Nine active buyers spending 0, 100, ..., 800. With the case's own row, the VIP cut-off (the
# 80% quantile of ten spends) is 700 for a case spending 700 or more; one spending s below 700
# moves the cut-off to s + 0.2 (700 - s), above s.
BACKGROUND = [{**BASE, "spend": 100.0 * i} for i in range(9)]


def stages_of(rows: list[dict[str, Any]], *, no_p_alive: bool = False, **kwargs: Any) -> np.ndarray:
    columns: dict[str, Any] = {name: np.array([float(r[name]) for r in rows]) for name in FIELDS}
    if no_p_alive:
        columns["p_alive"] = None
    return lifecycle_stages(**columns, **kwargs)


def stage_of(*, no_p_alive: bool = False, **changes: float) -> str:
    return str(stages_of([{**BASE, **changes}, *BACKGROUND], no_p_alive=no_p_alive)[0])


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, "active", id="healthy repeat buyer"),
        # 1. never_purchased: only orders is read.
        pytest.param(
            {"orders": 0, "recency_days": NAN, "tenure_days": NAN, "p_alive": NAN,
             "expected_gap_days": NAN, "spend": NAN},
            "never_purchased", id="no orders, the rest NaN",
        ),
        pytest.param(
            {"orders": 0, "recency_days": 999, "p_alive": 0.0}, "never_purchased",
            id="no orders whatever the rest says",
        ),
        # 2. new: at most new_max_orders orders, the first within new_days; before the risk rules.
        pytest.param({"orders": 1, "tenure_days": 60, "recency_days": 60}, "new", id="new at 60d"),
        pytest.param(
            {"orders": 1, "tenure_days": 61, "recency_days": 61, "expected_gap_days": 100},
            "active", id="one order 61d ago: no longer new",
        ),
        pytest.param(
            {"orders": 1, "tenure_days": 10, "recency_days": 10, "p_alive": 0.01}, "new",
            id="new before the P(alive) rules",
        ),
        pytest.param(
            {"orders": 1, "tenure_days": 59, "recency_days": 59, "expected_gap_days": 5},
            "new", id="new before the recency rules",
        ),
        pytest.param(
            {"orders": 2, "tenure_days": 30, "recency_days": 5}, "active",
            id="second order within the window: past new",
        ),
        # 3-5. P(alive) thresholds, strict: below churned 0.1, lapsed 0.3, at_risk 0.6.
        pytest.param({"p_alive": 0.099}, "churned", id="p 0.099"),
        pytest.param({"p_alive": 0.1}, "lapsed", id="p 0.1"),
        pytest.param({"p_alive": 0.299}, "lapsed", id="p 0.299"),
        pytest.param({"p_alive": 0.3}, "at_risk", id="p 0.3"),
        pytest.param({"p_alive": 0.599}, "at_risk", id="p 0.599"),
        pytest.param({"p_alive": 0.6}, "active", id="p 0.6"),
        pytest.param({"p_alive": 0.0}, "churned", id="p 0"),
        # 3-5. Recency against 1.5, 2.5 and 4 expected gaps (30 days), with day floors 30/90/180.
        pytest.param({"recency_days": 45}, "active", id="1.5 gaps exactly"),
        pytest.param({"recency_days": 46}, "at_risk", id="over 1.5 gaps and 30d"),
        pytest.param({"recency_days": 90}, "at_risk", id="over 2.5 gaps, not over 90d"),
        pytest.param({"recency_days": 91}, "lapsed", id="over 2.5 gaps and 90d"),
        pytest.param({"recency_days": 180}, "lapsed", id="over 4 gaps, not over 180d"),
        pytest.param({"recency_days": 181}, "churned", id="over 4 gaps and 180d"),
        pytest.param(
            {"recency_days": 30, "expected_gap_days": 5}, "active",
            id="frequent buyer: 6 gaps but not over 30d",
        ),
        pytest.param(
            {"recency_days": 31, "expected_gap_days": 5}, "at_risk", id="frequent buyer at 31d"
        ),
        pytest.param(
            {"recency_days": 400, "tenure_days": 500, "expected_gap_days": 100}, "lapsed",
            id="4 gaps of 100d exactly",
        ),
        pytest.param(
            {"recency_days": 401, "tenure_days": 500, "expected_gap_days": 100}, "churned",
            id="over 4 gaps of 100d",
        ),
        pytest.param(
            {"orders": 1, "tenure_days": 200, "recency_days": 200, "p_alive": 1.0,
             "expected_gap_days": 100},
            "at_risk", id="one-time buyer, P(alive) 1, silent 2 gaps",
        ),
        # 6. loyal: >= 4 orders and spend at or above the VIP cut-off.
        pytest.param({"orders": 4, "spend": 1000}, "loyal", id="4 orders, top spend"),
        pytest.param({"orders": 4, "spend": 700}, "loyal", id="spend at the cut-off"),
        pytest.param({"orders": 4, "spend": 699}, "active", id="spend under the cut-off"),
        pytest.param({"orders": 3, "spend": 1000}, "active", id="3 orders, top spend"),
        pytest.param({"orders": 9, "spend": 100}, "active", id="many orders, low spend"),
        pytest.param(
            {"orders": 9, "spend": 1000, "p_alive": 0.5}, "at_risk", id="VIP at risk: risk first"
        ),
    ],
)  # fmt: skip
def test_each_rule_and_boundary(changes: dict[str, Any], expected: str) -> None:
    assert stage_of(**changes) == expected


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"p_alive": 0.01}, "active"),
        ({"recency_days": 46}, "at_risk"),
        ({"recency_days": 181}, "churned"),
        ({"orders": 1, "tenure_days": 20, "recency_days": 20}, "new"),
    ],
)
def test_without_a_p_alive_model_recency_decides(changes: dict[str, float], expected: str) -> None:
    assert stage_of(no_p_alive=True, **changes) == expected


def test_output_is_strings_in_input_order() -> None:
    rows = [{**BASE, "orders": 0}, BASE, {**BASE, "p_alive": 0.05}]
    result = stages_of(rows)
    assert result.dtype == np.dtype("<U15")
    assert result.tolist() == ["never_purchased", "active", "churned"]
    assert lifecycle_stages([], [], [], [], [], []).shape == (0,)


def test_thresholds_change_the_rules() -> None:
    strict = LifecycleThresholds(at_risk_p_alive=0.95)
    assert stages_of([BASE], thresholds=strict)[0] == "at_risk"
    longer = LifecycleThresholds(new_days=400)
    row = {**BASE, "orders": 1, "recency_days": 300}
    assert stages_of([row], thresholds=longer)[0] == "new"
    everyone = LifecycleThresholds(vip_share=1.0)
    assert (
        stages_of([{**BASE, "orders": 4, "spend": 0}, *BACKGROUND], thresholds=everyone)[0]
        == "loyal"
    )


def column_with(name: str, value: Any) -> dict[str, Any]:
    columns: dict[str, Any] = {n: np.array([float(BASE[n])] * 3) for n in FIELDS}
    columns[name] = value
    return columns


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (column_with("orders", [2, NAN, 1]), "orders must be a whole number >= 0"),
        (column_with("orders", [2, 1.5, 1]), "orders must be a whole number >= 0.*row 1"),
        (column_with("orders", [2, -1, 1]), "orders must be a whole number"),
        (column_with("recency_days", [1, NAN, 1]), "recency_days must be finite"),
        (column_with("recency_days", [1, -2, 1]), "recency_days must be >= 0"),
        (column_with("tenure_days", [5, 5, 5]), "tenure_days must be >= recency_days"),
        (column_with("tenure_days", [NAN, 500, 500]), "tenure_days must be finite.*row 0"),
        (column_with("p_alive", [0.5, NAN, 0.5]), "p_alive must be finite"),
        (column_with("p_alive", [0.5, 1.2, 0.5]), "p_alive must be between 0 and 1"),
        (column_with("expected_gap_days", [30, 0, 30]), "expected_gap_days must be > 0"),
        (column_with("expected_gap_days", [30, np.inf, 30]), "expected_gap_days must be finite"),
        (column_with("spend", [1, 1, NAN]), "spend must be finite.*row 2"),
        (column_with("spend", [1, 1]), "spend has 2 rows, orders 3"),
        (column_with("spend", [[1, 1, 1]]), "spend must be one-dimensional"),
        (column_with("orders", ["a", "b", "c"]), "orders must be numeric"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_argument(
    columns: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        lifecycle_stages(**columns)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"churned_p_alive": 0.6}, "need churned_p_alive < lapsed_p_alive"),
        ({"churned_p_alive": 0.7}, "need churned_p_alive < lapsed_p_alive"),
        ({"lapsed_p_alive": 0.6}, "need lapsed_p_alive < at_risk_p_alive"),
        ({"churned_p_alive": -0.1}, r"P\(alive\) thresholds must lie in \[0, 1\]"),
        ({"at_risk_p_alive": 1.5}, r"must lie in \[0, 1\]"),
        ({"at_risk_gap_multiple": 3.0}, "need at_risk_gap_multiple < lapsed_gap_multiple"),
        ({"churned_gap_multiple": 2.5}, "need lapsed_gap_multiple < churned_gap_multiple"),
        (
            {"at_risk_gap_multiple": 0.0, "lapsed_gap_multiple": 0.5},
            "at_risk_gap_multiple must be > 0",
        ),
        ({"lapsed_min_days": 200.0}, "need lapsed_min_days <= churned_min_days"),
        ({"at_risk_min_days": -1.0, "lapsed_min_days": 0.0}, "at_risk_min_days must be >= 0"),
        ({"vip_share": 0.0}, r"vip_share must be in \(0, 1\]"),
        ({"vip_share": 1.5}, "vip_share"),
        ({"new_days": -1.0}, "new_days must be >= 0"),
        ({"new_max_orders": 4}, "loyal_min_orders .* must exceed new_max_orders"),
        ({"new_max_orders": 1.5}, "new_max_orders must be a whole number"),
        ({"loyal_min_orders": 0}, "loyal_min_orders must be a whole number >= 1"),
        ({"new_days": float("nan")}, "new_days must be finite"),
        ({"vip_share": "0.2"}, "vip_share must be a number"),
        ({"new_max_orders": True}, "new_max_orders must be a number"),
    ],
)
def test_inconsistent_thresholds_are_a_value_error(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LifecycleThresholds(**changes)


def test_equal_day_floors_are_allowed() -> None:
    flat = LifecycleThresholds(at_risk_min_days=0, lapsed_min_days=0, churned_min_days=0)
    assert flat.churned_min_days == 0


def test_stage_counts_lists_every_stage_in_display_order() -> None:
    counts = stage_counts(np.array(["active", "new", "active", "churned"]))
    assert list(counts) == list(STAGES)
    assert counts == {**dict.fromkeys(STAGES, 0), "active": 2, "new": 1, "churned": 1}
    assert sum(stage_counts(np.array([], dtype="<U15")).values()) == 0
    with pytest.raises(ValueError, match="not lifecycle stages: \\['gone'\\]"):
        stage_counts(["active", "gone"])


def test_expected_gap_shrinks_the_own_gap_toward_the_population() -> None:
    x = np.array([0.0, 1.0, 4.0, 100.0])
    t_x = np.array([0.0, 10.0, 40.0, 1000.0])  # own mean gap 10 days
    gaps = expected_gap(x, t_x, population_gap=50.0, prior_weight=1.0)
    np.testing.assert_allclose(gaps, [50.0, 30.0, 18.0, (50 + 1000) / 101])
    # With BG/NBD's r and alpha it is the reciprocal of the posterior mean rate.
    r, alpha = 0.25, 20.0
    np.testing.assert_allclose(expected_gap(x, t_x, alpha / r, r), (alpha + t_x) / (r + x))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: expected_gap([1.5], [3.0], 10.0), "frequency must be a whole number"),
        (lambda: expected_gap([1.0], [-3.0], 10.0), "t_x must be finite and >= 0"),
        (lambda: expected_gap([0.0], [3.0], 10.0), "t_x must be 0 for customers without repeat"),
        (lambda: expected_gap([1.0, 2.0], [3.0], 10.0), "frequency has 2 rows, t_x 1"),
        (lambda: expected_gap([1.0], [3.0], 0.0), "population_gap must be finite and > 0"),
        (lambda: expected_gap([1.0], [3.0], 10.0, float("nan")), "prior_weight must be"),
    ],
)
def test_expected_gap_rejects_bad_input(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# --- properties -----------------------------------------------------------------------------

customer = st.tuples(
    st.integers(0, 8),  # orders
    st.floats(0, 1),  # recency as a share of tenure
    st.floats(0, 800),  # tenure_days
    st.floats(0, 1),  # p_alive
    st.floats(0.5, 300),  # expected_gap_days
    st.floats(-50, 3000),  # spend, net of returns
    st.floats(0, 1),  # how far to lower p_alive (the factor it is multiplied by)
    st.floats(0, 1),  # how far toward the tenure to push the recency
)
customers = st.lists(customer, min_size=1, max_size=40)


@st.composite
def thresholds(draw: st.DrawFn) -> LifecycleThresholds:
    p = sorted(draw(st.lists(st.floats(0, 1), min_size=3, max_size=3, unique=True)))
    multiples = sorted(draw(st.lists(st.floats(0.1, 10), min_size=3, max_size=3, unique=True)))
    floors = sorted(draw(st.lists(st.floats(0, 400), min_size=3, max_size=3)))
    new_max = draw(st.integers(1, 3))
    return LifecycleThresholds(
        new_days=draw(st.floats(0, 200)),
        new_max_orders=new_max,
        churned_p_alive=p[0],
        lapsed_p_alive=p[1],
        at_risk_p_alive=p[2],
        at_risk_gap_multiple=multiples[0],
        lapsed_gap_multiple=multiples[1],
        churned_gap_multiple=multiples[2],
        at_risk_min_days=floors[0],
        lapsed_min_days=floors[1],
        churned_min_days=floors[2],
        loyal_min_orders=new_max + draw(st.integers(1, 4)),
        vip_share=draw(st.floats(0.01, 1)),
    )


def arrays_of(rows: list[tuple[float, ...]]) -> dict[str, np.ndarray]:
    data = np.array(rows, dtype=np.float64)
    orders, share, tenure = data[:, 0], data[:, 1], data[:, 2]
    buyer = orders > 0
    # Without orders the other fields are meaningless; NaN there must be accepted.
    masked = np.where(buyer, 0.0, np.nan)
    return {
        "orders": orders,
        "recency_days": share * tenure + masked,
        "tenure_days": tenure + masked,
        "p_alive": data[:, 3] + masked,
        "expected_gap_days": data[:, 4] + masked,
        "spend": data[:, 5],
    }


def health(stages: np.ndarray) -> np.ndarray:
    rank = {stage: i for i, stage in enumerate(HEALTH)}
    return np.array([rank.get(s, -1) for s in stages])


@settings(max_examples=200, deadline=None)
@given(customers, thresholds())
def test_every_customer_gets_one_stage_and_no_orders_means_never_purchased(
    rows: list[tuple[float, ...]], limits: LifecycleThresholds
) -> None:
    columns = arrays_of(rows)
    result = lifecycle_stages(**columns, thresholds=limits)
    assert result.shape == (len(rows),)
    assert set(result.tolist()) <= set(STAGES)
    np.testing.assert_array_equal(result == "never_purchased", columns["orders"] == 0)
    assert sum(stage_counts(result).values()) == len(rows)


@settings(max_examples=200, deadline=None)
@given(customers, thresholds())
def test_lower_p_alive_never_makes_a_customer_healthier(
    rows: list[tuple[float, ...]], limits: LifecycleThresholds
) -> None:
    columns = arrays_of(rows)
    before = lifecycle_stages(**columns, thresholds=limits)
    factor = np.array([r[6] for r in rows])
    lowered = {**columns, "p_alive": columns["p_alive"] * factor}
    after = lifecycle_stages(**lowered, thresholds=limits)
    assert (health(after) <= health(before)).all()
    np.testing.assert_array_equal(after == "never_purchased", before == "never_purchased")
    # No P(alive) at all is no evidence against anyone.
    no_model: dict[str, Any] = {**columns, "p_alive": None}
    unknown = lifecycle_stages(**no_model, thresholds=limits)
    assert (health(unknown) >= health(before)).all()


@settings(max_examples=200, deadline=None)
@given(customers, thresholds())
def test_longer_silence_never_makes_a_customer_healthier(
    rows: list[tuple[float, ...]], limits: LifecycleThresholds
) -> None:
    columns = arrays_of(rows)
    before = lifecycle_stages(**columns, thresholds=limits)
    push = np.array([r[7] for r in rows])
    recency, tenure = columns["recency_days"], columns["tenure_days"]
    later = {**columns, "recency_days": recency + push * (tenure - recency)}
    after = lifecycle_stages(**later, thresholds=limits)
    assert (health(after) <= health(before)).all()


def test_default_thresholds_are_valid_and_frozen() -> None:
    limits = LifecycleThresholds()
    with pytest.raises(AttributeError):
        limits.new_days = 10  # type: ignore[misc]
    assert replace(limits, new_days=10).new_days == 10
