"""The data follows the processes stated in truth/params.json.

Parameter checks allow 4 standard errors (from the inverse Hessian of the fitted model): a
correct generator fails one by chance with probability ~6e-5 per parameter, while a real
misspecification (e.g. dropout allowed after the first purchase, or spend measured on the
wrong quantity) shifts estimates by many standard errors at this sample size. Shares are
checked against binomial sampling error the same way.
"""

from __future__ import annotations

import math
from typing import Any

import duckdb
import numpy as np

from lifetide.models import BGNBD, GammaGamma

from .conftest import CONFIG, scalar

# Non-cancelled orders with the person behind their record.
PURCHASES = """
    SELECT r.person_id, o.order_id, o.ordered_at, (o.subtotal - o.discount)::DOUBLE AS net
    FROM orders o JOIN truth_records r USING (customer_id)
    WHERE o.status <> 'cancelled'
"""


def _within(estimate: float, truth: float, se: float, k: float = 4.0) -> bool:
    return abs(estimate - truth) <= k * se


def _binomial_se(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n)


def test_bgnbd_parameters_are_recovered(
    db: duckdb.DuckDBPyConnection, params: dict[str, Any]
) -> None:
    # x = repeat purchases, t_x and T in weeks from the person's first purchase; T ends at
    # the exclusive end of the history.
    rfm = f"""
        SELECT count(*) - 1 AS x,
               epoch(max(ordered_at) - min(ordered_at)) / 604800 AS t_x,
               epoch(TIMESTAMP '{params["end_exclusive"]}' - min(ordered_at)) / 604800 AS t
        FROM ({PURCHASES}) GROUP BY person_id
    """
    x, t_x, t = db.execute(rfm).fetchnumpy().values()
    model = BGNBD().fit(x, t_x, t)
    assert model.converged_
    truth = {k: params["config"][f"bgnbd_{k}"] for k in ("r", "alpha", "a", "b")}
    for name, value in truth.items():
        se = model.standard_errors_[name]
        assert se < 0.1 * value, f"{name}: the sample is too small to test ({se=})"
        assert _within(model.params_[name], value, se), (name, model.params_[name], value, se)


def test_gamma_gamma_parameters_are_recovered(
    db: duckdb.DuckDBPyConnection, params: dict[str, Any]
) -> None:
    # Per repeat buyer: number and mean of repeat purchases' subtotal - discount (the first
    # purchase is left out, as lifetimes does; it follows the same law).
    spend = f"""
        SELECT count(*) AS x, avg(net) AS m FROM (
            SELECT *, row_number() OVER (PARTITION BY person_id ORDER BY ordered_at, order_id) AS k
            FROM ({PURCHASES})) WHERE k > 1 GROUP BY person_id
    """
    x, m = db.execute(spend).fetchnumpy().values()
    model = GammaGamma().fit(x, m)
    assert model.converged_
    truth = {k: params["config"][f"gg_{k}"] for k in ("p", "q", "gamma")}
    for name, value in truth.items():
        se = model.standard_errors_[name]
        assert se < 0.1 * value, f"{name}: the sample is too small to test ({se=})"
        assert _within(model.params_[name], value, se), (name, model.params_[name], value, se)


def test_realized_spend_tracks_the_gamma_gamma_draw(db: duckdb.DuckDBPyConnection) -> None:
    query = """
        SELECT abs((o.subtotal - o.discount) - v.gamma_gamma_value) / v.gamma_gamma_value AS gap
        FROM orders o JOIN truth_order_values v USING (order_id)
    """
    gaps = np.asarray(db.execute(query).fetchnumpy()["gap"], dtype=np.float64)
    assert np.median(gaps) < 0.01
    assert np.quantile(gaps, 0.99) < 0.05


def test_truth_repeat_counts_match_orders(db: duckdb.DuckDBPyConnection) -> None:
    differs = f"""
        SELECT count(*) FROM truth_persons p LEFT JOIN (
            SELECT person_id, count(*) - 1 AS x FROM ({PURCHASES}) GROUP BY 1) o USING (person_id)
        WHERE coalesce(o.x, 0) <> p.repeat_purchases OR (o.x IS NULL) = p.buyer
    """
    assert scalar(db, differs) == 0
    dropped_after_last = f"""
        SELECT count(*) FROM truth_persons p JOIN (
            SELECT person_id, max(ordered_at) AS last FROM ({PURCHASES}) GROUP BY 1) o USING
                (person_id)
        WHERE p.dropout_at IS NOT NULL AND p.dropout_at <> o.last
    """
    assert scalar(db, dropped_after_last) == 0


def test_never_purchased_share(db: duckdb.DuckDBPyConnection) -> None:
    share = scalar(db, "SELECT avg((NOT buyer)::int) FROM truth_persons")
    assert _within(
        share, CONFIG.never_purchased, _binomial_se(CONFIG.never_purchased, CONFIG.customers)
    )


def test_cart_abandonment_rate(db: duckdb.DuckDBPyConnection) -> None:
    carts, abandoned = db.execute(
        """
        SELECT count(*), sum((o.cart_id IS NULL)::int) FROM (
            SELECT DISTINCT cart_id FROM events WHERE event = 'Product Added') c
        LEFT JOIN (SELECT DISTINCT cart_id FROM events WHERE event = 'Order Completed') o
        USING (cart_id)
        """
    ).fetchone() or (0, 0)
    rate = abandoned / carts
    # Carts drawn before the first day are dropped, so allow a little below the setting.
    assert abs(rate - CONFIG.cart_abandonment) < 0.01 + 4 * _binomial_se(
        CONFIG.cart_abandonment, carts
    )


def test_duplicate_share(db: duckdb.DuckDBPyConnection) -> None:
    share = scalar(
        db,
        "SELECT avg((n > 1)::int) FROM (SELECT person_id, count(*) AS n FROM "
        "truth_records GROUP BY 1)",
    )
    assert _within(
        share, CONFIG.duplicate_rate, _binomial_se(CONFIG.duplicate_rate, CONFIG.customers)
    )
    altered = (
        "SELECT count(*) FROM truth_records WHERE is_duplicate AND (altered IS NULL OR "
        "altered = '')"
    )
    # A store record may happen to write the phone the same way and change nothing else.
    assert scalar(db, altered) <= 0.1 * scalar(
        db, "SELECT count(*) FROM truth_records WHERE is_duplicate"
    )


def test_duplicates_look_like_their_person(db: duckdb.DuckDBPyConnection) -> None:
    same = """
        SELECT avg((lower(d.email) = lower(p.email))::int), avg((d.address_line1 =
            p.address_line1)::int)
        FROM truth_records r
        JOIN customers d ON d.customer_id = r.customer_id
        JOIN truth_persons t ON t.person_id = r.person_id
        JOIN customers p ON p.customer_id = t.primary_customer_id
        WHERE r.is_duplicate AND r.kind <> 'second_account'
    """
    email_same, address_same = db.execute(same).fetchone() or (0, 0)
    assert email_same == 1.0
    assert address_same == 1.0
    unique_emails = (
        "SELECT count(email) = count(DISTINCT lower(email)) FROM customers c JOIN "
        "truth_records r USING (customer_id) WHERE NOT r.is_duplicate"
    )
    assert scalar(db, unique_emails)


def test_opt_out_share(db: duckdb.DuckDBPyConnection) -> None:
    share, n = db.execute(
        """
        SELECT avg((NOT c.accepts_email_marketing)::int), count(*)
        FROM customers c JOIN truth_records r USING (customer_id)
        WHERE NOT r.is_duplicate AND c.email IS NOT NULL AND r.unsubscribed_at IS NULL
        """
    ).fetchone() or (0, 0)
    assert _within(share, CONFIG.email_opt_out, _binomial_se(CONFIG.email_opt_out, n))


def test_category_shares_follow_preferences(db: duckdb.DuckDBPyConnection) -> None:
    # Every line's category is drawn from its person's Dirichlet preference, so the lines'
    # category shares equal the line-weighted mean preference.
    rows = db.execute(
        """
        SELECT i.category, count(*) AS lines,
               sum(CASE i.category WHEN 'skincare' THEN t.pref_skincare WHEN 'makeup' THEN
                   t.pref_makeup
                   WHEN 'fragrance' THEN t.pref_fragrance WHEN 'hair' THEN t.pref_hair
                   WHEN 'bath & body' THEN t.pref_bath_and_body ELSE t.pref_tools END) AS own_pref
        FROM order_items i JOIN orders o USING (order_id)
        JOIN truth_records r USING (customer_id) JOIN truth_persons t USING (person_id)
        GROUP BY 1
        """
    ).fetchall()
    expected = db.execute(
        """
        SELECT avg(t.pref_skincare), avg(t.pref_makeup), avg(t.pref_fragrance), avg(t.pref_hair),
               avg(t.pref_bath_and_body), avg(t.pref_tools)
        FROM order_items i JOIN orders o USING (order_id)
        JOIN truth_records r USING (customer_id) JOIN truth_persons t USING (person_id)
        """
    ).fetchone()
    assert expected is not None
    total = sum(n for _, n, _ in rows)
    observed = {c: n / total for c, n, _ in rows}
    for category, mean_pref in zip(
        ["skincare", "makeup", "fragrance", "hair", "bath & body", "tools"], expected, strict=True
    ):
        assert abs(observed[category] - mean_pref) < 0.1 * mean_pref + 0.005, category
    # And a person's top category is what they buy most.
    agree = scalar(
        db,
        """
        SELECT avg((top = t.top_category)::int) FROM (
            SELECT r.person_id, arg_max(i.category, n) AS top FROM (
                SELECT o.customer_id, i.category, count(*) AS n
                FROM order_items i JOIN orders o USING (order_id) GROUP BY 1, 2) i
            JOIN truth_records r ON r.customer_id = i.customer_id
            GROUP BY 1 HAVING sum(n) >= 8) x
        JOIN truth_persons t USING (person_id)
        """,
    )
    assert agree > 0.6


def test_discount_behaviour_follows_the_classes(db: duckdb.DuckDBPyConnection) -> None:
    rows = dict(
        db.execute(
            """
            SELECT CASE WHEN t.discount_seeker THEN 'seeker' ELSE t.discount_class END,
                   avg((o.promo_code IS NOT NULL)::int)
            FROM orders o JOIN truth_records r USING (customer_id) JOIN truth_persons t USING
                (person_id)
            GROUP BY 1
            """
        ).fetchall()
    )
    assert (
        rows["seeker"]
        > rows["persuadable"]
        > rows["sure_thing"]
        > rows["lost_cause"]
        > rows["sleeping_dog"]
    )
    clearance = dict(
        db.execute(
            """
            SELECT t.clearance_lover, avg(i.clearance::int)
            FROM order_items i JOIN orders o USING (order_id)
            JOIN truth_records r USING (customer_id) JOIN truth_persons t USING (person_id)
            GROUP BY 1
            """
        ).fetchall()
    )
    assert clearance[True] > 4 * clearance[False]


def test_replenishable_staples_come_back_on_rhythm(db: duckdb.DuckDBPyConnection) -> None:
    # Gaps between repurchases of a person's staples are never far below 80% of the
    # product's replenish_days.
    early = scalar(
        db,
        """
        WITH bought AS (
            SELECT r.person_id, i.product_id, o.ordered_at, p.replenish_days,
                   lag(o.ordered_at) OVER (PARTITION BY r.person_id, i.product_id ORDER BY
                       o.ordered_at) AS prev
            FROM order_items i JOIN orders o USING (order_id) JOIN products p USING (product_id)
            JOIN truth_records r USING (customer_id)
            JOIN (SELECT person_id, unnest(staples) AS product_id FROM truth_persons) s
              ON s.person_id = r.person_id AND s.product_id = i.product_id
            WHERE o.status <> 'cancelled')
        SELECT avg((epoch(ordered_at - prev) / 86400 < 0.8 * replenish_days)::int)
        FROM bought WHERE prev IS NOT NULL
        """,
    )
    # Staples are also picked by taste now and then, so a few come back early.
    assert early < 0.25


def test_email_engagement_follows_the_classes(db: duckdb.DuckDBPyConnection) -> None:
    rates = dict(
        db.execute(
            """
            SELECT t.email_class,
                   avg((e.event = 'Email Opened')::int) / avg((e.event = 'Email Delivered')::int)
            FROM events e JOIN truth_records r ON r.customer_id = e.user_id
            JOIN truth_persons t USING (person_id)
            WHERE e.event IN ('Email Delivered', 'Email Opened') GROUP BY 1
            """
        ).fetchall()
    )
    assert rates["sure_thing"] > rates["lost_cause"] * 2
    assert rates["persuadable"] > rates["lost_cause"] * 2
