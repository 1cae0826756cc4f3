"""Abandoned carts split into lost ones and ones that come back before an order."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pytest

from lifetide.synth import SynthConfig, generate

from .conftest import CONFIG, scalar

# Each abandoned cart (a cart id with a Product Added and no Order Completed) with its person,
# its first add, whether it was signed in, and whether its person placed a purchase (any
# channel) in the 7 days after it.
ABANDONED = """
    WITH added AS (
        SELECT cart_id, min(timestamp) AS added_at, any_value(anonymous_id) AS anonymous_id,
               bool_or(user_id IS NOT NULL) AS signed_in
        FROM events WHERE event = 'Product Added' GROUP BY cart_id),
    completed AS (SELECT DISTINCT cart_id FROM events WHERE event = 'Order Completed'),
    purchases AS (
        SELECT r.person_id, o.ordered_at FROM orders o JOIN truth_records r USING (customer_id)
        WHERE o.status <> 'cancelled')
    SELECT a.cart_id, d.person_id, a.signed_in, p.buyer,
           NOT EXISTS (
               SELECT 1 FROM purchases b WHERE b.person_id = d.person_id
                  AND b.ordered_at > a.added_at
                  AND b.ordered_at <= a.added_at + INTERVAL 7 DAY) AS lost
    FROM added a
    LEFT JOIN completed c USING (cart_id)
    JOIN truth_devices d USING (anonymous_id)
    JOIN truth_persons p USING (person_id)
    WHERE c.cart_id IS NULL
"""


Cart = tuple[str, int, bool, bool, bool]


def _abandoned(con: duckdb.DuckDBPyConnection) -> list[Cart]:
    """(cart_id, person_id, signed_in, buyer, lost) per abandoned cart."""
    return [
        (str(r[0]), int(r[1]), bool(r[2]), bool(r[3]), bool(r[4]))
        for r in con.execute(ABANDONED).fetchall()
    ]


def _rate(con: duckdb.DuckDBPyConnection) -> tuple[int, float]:
    """Carts, and the share of them with no Order Completed."""
    carts, abandoned = con.execute(
        """
        SELECT count(*), sum((o.cart_id IS NULL)::int) FROM (
            SELECT DISTINCT cart_id FROM events WHERE event = 'Product Added') c
        LEFT JOIN (SELECT DISTINCT cart_id FROM events WHERE event = 'Order Completed') o
        USING (cart_id)
        """
    ).fetchone() or (0, 0)
    return carts, abandoned / carts


@pytest.fixture(scope="module")
def abandoned(db: duckdb.DuckDBPyConnection) -> list[Cart]:
    """The shared shop's abandoned carts."""
    return _abandoned(db)


def _share(flags: list[bool]) -> float:
    return sum(flags) / len(flags)


def test_many_abandoned_carts_are_followed_by_no_order(abandoned: list[Cart]) -> None:
    lost = _share([c[4] for c in abandoned])
    assert len(abandoned) > 10_000
    assert lost > 0.2
    # Carts that come back land within 7 days of their order ~97% of the time (exponential
    # lead of 2 days); a few lost carts meet an order by chance. So the followed share is
    # about 1 - lost_cart_share.
    assert abs((1 - lost) - (1 - CONFIG.lost_cart_share)) < 0.05


def test_non_buyers_abandon_carts(db: duckdb.DuckDBPyConnection, abandoned: list[Cart]) -> None:
    non_buyers = scalar(db, "SELECT count(*) FROM truth_persons WHERE NOT buyer")
    theirs = [c for c in abandoned if not c[3]]
    assert len({c[1] for c in theirs}) / non_buyers > 0.5
    assert all(c[4] for c in theirs)


def test_lost_and_returning_carts_sign_in_alike(abandoned: list[Cart]) -> None:
    lost = _share([c[2] for c in abandoned if c[4]])
    returning = _share([c[2] for c in abandoned if not c[4]])
    assert 0.2 < lost < 0.9
    assert abs(lost - returning) < 0.05


def test_another_split_keeps_the_abandonment_rate(tmp_path: Path) -> None:
    config = SynthConfig(customers=4_000, seed=5, lost_cart_share=0.9)
    out = generate(config, tmp_path).out_dir
    con = duckdb.connect()
    for name in ("events", "orders"):
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{out / name}.parquet')")
    for name in ("devices", "persons", "records"):
        path = out / "truth" / f"{name}.parquet"
        con.execute(f"CREATE VIEW truth_{name} AS SELECT * FROM read_parquet('{path}')")
    carts, rate = _rate(con)
    se = math.sqrt(config.cart_abandonment * (1 - config.cart_abandonment) / carts)
    assert abs(rate - config.cart_abandonment) < 0.01 + 4 * se
    assert _share([c[4] for c in _abandoned(con)]) > 0.8
    con.close()


def test_lost_cart_share_must_be_a_proper_share() -> None:
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="lost_cart_share"):
            SynthConfig(lost_cart_share=bad)
