"""Replenishment intervals and due dates: small tables, properties, the synthetic retailer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.stats import spearmanr

from lifetide.models.replenishment import (
    NO_DUE_DATE,
    CustomerIntervals,
    ProductIntervals,
    _grouped_quantile,
    customer_intervals,
    due_dates,
    product_intervals,
)
from lifetide.synth import SynthConfig, generate


@settings(max_examples=100, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(0, 60), elements=st.floats(0, 1e4)),
    st.integers(1, 6),
    st.floats(0, 1),
    st.randoms(use_true_random=False),
)
def test_grouped_quantile_is_numpys_per_group(
    values: np.ndarray, n_groups: int, q: float, random: Any
) -> None:
    group = np.array([random.randrange(n_groups) for _ in values], dtype=np.int64)
    result, counts = _grouped_quantile(group, values, n_groups, q)
    for g in range(n_groups):
        mine = values[group == g]
        assert counts[g] == len(mine)
        if len(mine):
            assert result[g] == pytest.approx(np.quantile(mine, q), rel=1e-12, abs=1e-9)
        else:
            assert np.isnan(result[g])


# Product 0: four gaps (one after buying 2 units); product 1: one gap and a catalog interval;
# product 2: neither replenishable nor in the catalog; product 3: not replenishable, but
# re-bought often enough to be observed.
GAPS = pd.DataFrame(
    {
        "product": [0, 0, 0, 0, 1, 3, 3, 3],
        "gap_days": [30, 40, 100, 60, 10, 7, 9, 8],
        "quantity": [1, 1, 2, 1, 1, 1, 1, 1],
    }
)
CATALOG = np.array([45.0, 45.0, np.nan, -1.0])
REPLENISHABLE = np.array([True, True, False, False])


def small() -> ProductIntervals:
    return product_intervals(
        GAPS["product"], GAPS.gap_days, GAPS.quantity, 4, CATALOG, REPLENISHABLE, min_support=3
    )


def test_small_table() -> None:
    result = small()
    # Per unit, product 0's gaps are 30, 40, 50, 60: the lower quartile is 37.5.
    assert result.days_per_unit[0] == pytest.approx(37.5)
    assert result.days_per_unit[1] == 45.0  # one gap < min_support: the catalog, unscaled
    assert np.isnan(result.days_per_unit[2])
    assert result.days_per_unit[3] == pytest.approx(7.5)
    assert list(result.source) == ["observed", "catalog", "none", "observed"]
    assert list(result.support) == [4, 1, 0, 3]
    assert result.catalog_scale == 1.0  # fewer than 10 products to scale from
    median = product_intervals(
        GAPS["product"], GAPS.gap_days, GAPS.quantity, 4, CATALOG, REPLENISHABLE, 3, quantile=0.5
    )
    assert median.days_per_unit[0] == pytest.approx(45.0)


def test_catalog_days_are_scaled_to_the_observed_ones() -> None:
    rng = np.random.default_rng(1)
    catalog = rng.integers(20, 100, 13).astype(float)
    # Products 0-11 observed at 1.25x their catalog days; product 12 has no gaps.
    product = np.repeat(np.arange(12), 5)
    gaps = np.repeat(catalog[:12] * 1.25, 5)
    result = product_intervals(
        product, gaps, np.ones(len(gaps)), 13, catalog, np.ones(13, dtype=bool), min_support=5
    )
    assert result.catalog_scale == pytest.approx(1.25)
    assert result.source[12] == "catalog"
    assert result.days_per_unit[12] == pytest.approx(1.25 * catalog[12])


DUE = [
    # last day, last quantity, product, (own median, own gaps) or None, due
    (100, 1, 0, None, 138),  # 100 + round(37.5)
    (100, 2, 0, None, 175),  # two units last twice as long
    (100, 1, 1, None, 145),  # catalog interval
    (100, 1, 2, None, NO_DUE_DATE),  # no interval anywhere
    (100, 1, 3, None, NO_DUE_DATE),  # observed, but not replenishable
    (100, 1, 0, (20.0, 3), 129),  # z = 3 / (3 + 3): 0.5 x 20 + 0.5 x 37.5 = 28.75
    (100, 1, 0, (20.0, 1), 138),  # one own gap: not used
    (100, 1, 2, (20.0, 2), NO_DUE_DATE),  # own history, but not replenishable
    (0, 1, 1, (0.1, 1000), 1),  # at least a day later
]


@pytest.mark.parametrize(("day", "quantity", "product", "own", "expected"), DUE)
def test_due_dates_table(
    day: int, quantity: int, product: int, own: tuple[float, int] | None, expected: int
) -> None:
    gaps = None if own is None else CustomerIntervals(np.array([own[0]]), np.array([own[1]]))
    due = due_dates([day], [quantity], [product], small(), customer_gaps=gaps)
    assert due.tolist() == [expected]


def test_own_history_stands_alone_without_a_product_interval() -> None:
    intervals = ProductIntervals(
        np.array([np.nan]), np.array([0]), np.array(["none"]), np.array([True]), 1.0
    )
    gaps = CustomerIntervals(np.array([20.0, 20.0]), np.array([2, 1]))
    assert due_dates([10, 10], [1, 1], [0, 0], intervals, gaps).tolist() == [30, NO_DUE_DATE]


def test_customer_intervals_are_medians_per_pair() -> None:
    result = customer_intervals([0, 0, 0, 2, 1, 1], [10, 30, 40, 9, 20, 40], [1, 1, 2, 3, 1, 1], 4)
    np.testing.assert_allclose(result.days_per_unit[:3], [20.0, 30.0, 3.0])
    assert np.isnan(result.days_per_unit[3])
    assert result.support.tolist() == [3, 2, 1, 0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"gap_days": [30, 0]}, "gap_days must be"),
        ({"quantity": [1, np.nan]}, "quantity must be"),
        ({"product": [0, 2]}, "product must be in"),
        ({"product": [0]}, "differ in length"),
        ({"catalog_days": [30.0]}, "differ in length"),
        ({"replenishable": [1, 0]}, "replenishable must be booleans"),
        ({"min_support": 0}, "min_support"),
        ({"quantile": 1.5}, "quantile"),
    ],
)
def test_product_intervals_rejects_bad_input(change: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {
        "product": [0, 1],
        "gap_days": [30, 20],
        "quantity": [1, 1],
        "n_products": 2,
        "catalog_days": [30.0, -1.0],
        "replenishable": [True, False],
        **change,
    }
    with pytest.raises(ValueError, match=message):
        product_intervals(**args)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([-1], [1], [0]), "last_purchase_day"),
        (([1.5], [1], [0]), "last_purchase_day"),
        (([1], [0], [0]), "last_quantity"),
        (([1], [1], [4]), "product must be in"),
        (([1, 2], [1], [0]), "differ in length"),
    ],
)
def test_due_dates_rejects_bad_input(args: tuple[list[float], ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        due_dates(*args, small())


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 5).flatmap(
        lambda n: st.tuples(
            st.just(n),
            hnp.arrays(np.int64, st.integers(1, 40), elements=st.integers(0, n - 1)),
        )
    ),
    st.integers(0, 2**31),
    st.floats(0.1, 10),
)
def test_due_after_the_last_purchase_and_scaling_quantity_scales_the_interval(
    data: tuple[int, np.ndarray], seed: int, factor: float
) -> None:
    n, product = data
    rng = np.random.default_rng(seed)
    gaps = rng.integers(1, 400, len(product)).astype(float)
    quantity = rng.integers(1, 4, len(product)).astype(float)
    catalog = np.where(rng.random(n) < 0.5, rng.integers(1, 200, n), -1).astype(float)
    flags = rng.random(n) < 0.7
    base = product_intervals(product, gaps, quantity, n, catalog, flags, min_support=2)
    scaled = product_intervals(product, gaps, quantity * factor, n, catalog, flags, min_support=2)
    observed = base.source == "observed"
    np.testing.assert_allclose(
        scaled.days_per_unit[observed], base.days_per_unit[observed] / factor, rtol=1e-12
    )

    rows = 50
    day = rng.integers(0, 1_000, rows)
    last = rng.integers(1, 4, rows).astype(float)
    which = rng.integers(0, n, rows)
    own = CustomerIntervals(rng.uniform(1, 100, rows), rng.integers(0, 6, rows))
    due = due_dates(day, last, which, base, own)
    known = due != NO_DUE_DATE
    assert (due[known] > day[known]).all()
    usable = own.support >= 2
    assert (known == (base.replenishable[which] & ((base.source[which] != "none") | usable))).all()
    # Twice the quantity, twice the wait (to the day's rounding).
    twice = due_dates(day, 2 * last, which, base, own)
    np.testing.assert_allclose(twice[known] - day[known], 2 * (due[known] - day[known]), atol=1)


# --- the synthetic retailer ---


@pytest.fixture(scope="module")
def retailer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 20,000 customers: at 5,000 only 17 products have 20 repeat-purchase gaps.
    out = tmp_path_factory.mktemp("retailer")
    generate(SynthConfig(customers=20_000, seed=2), out)
    return out


@pytest.fixture(scope="module")
def catalog(retailer: Path) -> pd.DataFrame:
    return duckdb.sql(
        f"""
        select product_id, replenishable, coalesce(replenish_days, -1) as replenish_days
        from '{retailer}/products.parquet' order by product_id
        """
    ).df()


@pytest.fixture(scope="module")
def gaps(retailer: Path) -> pd.DataFrame:
    """The warehouse's gap table: per customer x product, days between purchase days.

    quantity is the units bought on the gap's first day; k numbers a pair's gaps in time.
    """
    d = retailer
    return duckdb.sql(
        f"""
        with codes as (
            select product_id, row_number() over (order by product_id) - 1 as product
            from '{d}/products.parquet'
        ),
        days as (
            select o.customer_id, i.product_id, cast(o.ordered_at as date) as day,
                sum(i.quantity) as quantity
            from '{d}/order_items.parquet' i join '{d}/orders.parquet' o using (order_id)
            where o.status <> 'cancelled'
            group by all
        ),
        paired as (
            select *, lead(day) over (partition by customer_id, product_id order by day) as next,
                row_number() over (partition by customer_id, product_id order by day) as k
            from days
        )
        select product, quantity, next - day as gap_days, k,
            dense_rank() over (order by customer_id, product) - 1 as pair
        from paired join codes using (product_id)
        where next is not null
        order by pair, k
        """
    ).df()


def test_observed_intervals_recover_the_catalog(catalog: pd.DataFrame, gaps: pd.DataFrame) -> None:
    """Re-buying starts at 80% of replenish_days, then waits for the person's next order.

    So a gap is 0.8 x replenish_days plus a wait (exponential at the person's BG/NBD rate,
    ~15% of due staples skipped once more), the same in law for every product: the gaps'
    quantiles rise with replenish_days, the median blurred most by the wait. Measured (seed
    2, 20,000 customers, 184 replenishable products with >= 20 gaps): Spearman 0.788 for the
    lower quartile, 0.421 for the median; the lower quartile is 1.15 x replenish_days.
    """
    replenishable = catalog.replenishable.to_numpy()
    days = catalog.replenish_days.to_numpy(float)
    args = (gaps["product"], gaps.gap_days, gaps.quantity, len(catalog), days, replenishable)
    quartile = product_intervals(*args)
    median = product_intervals(*args, quantile=0.5)
    observed = (quartile.source == "observed") & replenishable
    assert observed.sum() > 150
    rho = spearmanr(quartile.days_per_unit[observed], days[observed]).statistic
    rho_median = spearmanr(median.days_per_unit[observed], days[observed]).statistic
    assert rho > 0.7
    assert rho > rho_median + 0.2
    assert 0.9 < quartile.catalog_scale < 1.5
    # Every replenishable product has an interval; non-replenishable ones have no catalog one.
    assert (quartile.source[replenishable] != "none").all()
    assert (quartile.source[~replenishable] != "catalog").all()


def test_own_history_improves_the_next_due_date(catalog: pd.DataFrame, gaps: pd.DataFrame) -> None:
    """Predict each pair's last gap from what came before it.

    Measured (seed 2): over 1,443 pairs with >= 2 earlier gaps, the mean absolute error is
    75.0 days with the product's interval alone, 71.9 blending in the customer's own median
    at prior_gaps = 3, and 79.9 at 0.5 (mostly their own).
    """
    last = gaps.groupby("pair").k.transform("max") == gaps.k
    before, held_out = gaps[~last], gaps[last]
    intervals = product_intervals(
        before["product"],
        before.gap_days,
        before.quantity,
        len(catalog),
        catalog.replenish_days.to_numpy(float),
        catalog.replenishable.to_numpy(),
    )
    own = customer_intervals(before.pair, before.gap_days, before.quantity, gaps.pair.max() + 1)
    pairs = held_out.pair.to_numpy()
    aligned = CustomerIntervals(own.days_per_unit[pairs], own.support[pairs])
    start = np.zeros(len(held_out), dtype=np.int64)

    def error(prior_gaps: float | None) -> tuple[float, int]:
        due = due_dates(
            start,
            held_out.quantity,
            held_out["product"],
            intervals,
            None if prior_gaps is None else aligned,
            prior_gaps=prior_gaps or 0.0,
        )
        rows = (due != NO_DUE_DATE) & (aligned.support >= 2)
        return float(np.abs(due[rows] - held_out.gap_days.to_numpy()[rows]).mean()), int(rows.sum())

    product_only, n = error(None)
    blended, _ = error(3.0)
    mostly_own, _ = error(0.5)
    assert n > 1_000
    assert blended < product_only - 1
    assert blended < mostly_own - 1
