"""The generated tables honour the warehouse contract exactly."""

from __future__ import annotations

import duckdb
import pyarrow.parquet as pq
import pytest

from lifetide.synth import SynthSummary
from lifetide.warehouse import schema
from lifetide.warehouse.arrow import arrow_schema

from .conftest import CONFIG, scalar

SEGMENT_ECOMMERCE = {
    "Products Searched", "Product List Viewed", "Product Viewed", "Product Added",
    "Cart Viewed", "Checkout Started", "Coupon Applied", "Order Completed", "Order Cancelled",
}  # fmt: skip
SEGMENT_EMAIL = {
    "Email Delivered", "Email Opened", "Email Link Clicked", "Email Bounced", "Unsubscribed"
}  # fmt: skip
PAGE_NAMES = {"Home", "Category"}


@pytest.mark.parametrize("name", schema.IMPORT_ORDER)
def test_schema_is_exactly_the_warehouse_schema(synth: SynthSummary, name: str) -> None:
    written = pq.read_schema(synth.out_dir / f"{name}.parquet")
    assert written.remove_metadata() == arrow_schema(schema.table(name))
    assert [f.nullable for f in written] == [c.nullable for c in schema.table(name).columns]


def test_row_counts_match_files(synth: SynthSummary) -> None:
    for name in schema.IMPORT_ORDER:
        assert pq.read_metadata(synth.out_dir / f"{name}.parquet").num_rows == synth.rows[name]
    assert synth.rows["truth/persons"] == CONFIG.customers
    assert synth.rows["customers"] == synth.rows["truth/records"]


@pytest.mark.parametrize("name", schema.IMPORT_ORDER)
def test_keys_are_unique_and_not_null(db: duckdb.DuckDBPyConnection, name: str) -> None:
    table = schema.table(name)
    key = ", ".join(table.key)
    nulls = " OR ".join(f"{k} IS NULL" for k in table.key)
    assert scalar(db, f"SELECT count(*) FROM {name} WHERE {nulls}") == 0
    dupes = f"SELECT count(*) FROM (SELECT {key} FROM {name} GROUP BY {key} HAVING count(*) > 1)"
    assert scalar(db, dupes) == 0


@pytest.mark.parametrize(
    ("name", "column", "target", "target_column"),
    [(t.name, r.column, r.table, r.target) for t in schema.TABLES.values() for r in t.references],
)
def test_references_hold(
    db: duckdb.DuckDBPyConnection, name: str, column: str, target: str, target_column: str
) -> None:
    orphans = (
        f"SELECT count(*) FROM {name} WHERE {column} IS NOT NULL AND {column} NOT IN "
        f"(SELECT {target_column} FROM {target})"
    )
    assert scalar(db, orphans) == 0


@pytest.mark.parametrize(
    ("name", "column"),
    [
        (t.name, c.name)
        for t in schema.TABLES.values()
        for c in t.columns
        if c.choices or not c.nullable
    ],
)
def test_choices_and_non_nulls(db: duckdb.DuckDBPyConnection, name: str, column: str) -> None:
    spec = schema.table(name).column(column)
    if not spec.nullable:
        assert scalar(db, f"SELECT count(*) FROM {name} WHERE {column} IS NULL") == 0
    if spec.choices:
        allowed = ", ".join(f"'{c}'" for c in spec.choices)
        bad = (
            f"SELECT count(*) FROM {name} WHERE {column} IS NOT NULL AND {column} NOT IN "
            f"({allowed})"
        )
        assert scalar(db, bad) == 0


def test_order_money_identities(db: duckdb.DuckDBPyConnection) -> None:
    assert (
        scalar(
            db, "SELECT count(*) FROM orders WHERE total <> subtotal - discount + shipping + tax"
        )
        == 0
    )
    mismatched = """
        SELECT count(*) FROM orders o JOIN (
            SELECT order_id, sum(unit_price * quantity) AS subtotal, sum(discount) AS discount
            FROM order_items GROUP BY order_id) i USING (order_id)
        WHERE o.subtotal <> i.subtotal OR o.discount <> i.discount
    """
    assert scalar(db, mismatched) == 0
    assert (
        scalar(
            db,
            "SELECT count(*) FROM orders WHERE order_id NOT IN (SELECT order_id FROM order_items)",
        )
        == 0
    )
    assert (
        scalar(db, "SELECT count(*) FROM orders WHERE least(subtotal, discount, shipping, tax) < 0")
        == 0
    )
    assert (
        scalar(
            db,
            "SELECT count(*) FROM order_items WHERE quantity < 1 OR discount > unit_price "
            "* quantity",
        )
        == 0
    )


def test_lines_match_the_catalog(db: duckdb.DuckDBPyConnection) -> None:
    differs = """
        SELECT count(*) FROM order_items i JOIN products p USING (product_id)
        WHERE i.unit_price <> p.price OR i.category <> p.category OR i.brand <> p.brand
    """
    assert scalar(db, differs) == 0
    numbering = """
        SELECT count(*) FROM (SELECT order_id, max(line_number) AS top, count(*) AS n
                              FROM order_items GROUP BY order_id) WHERE top <> n
    """
    assert scalar(db, numbering) == 0


def test_store_and_online_orders(db: duckdb.DuckDBPyConnection) -> None:
    assert (
        scalar(
            db,
            "SELECT count(*) FROM orders WHERE channel = 'store' AND (store_id IS NULL OR "
            "shipping <> 0 OR cart_id IS NOT NULL)",
        )
        == 0
    )
    assert (
        scalar(
            db,
            "SELECT count(*) FROM orders WHERE channel = 'online' AND (store_id IS NOT "
            "NULL OR cart_id IS NULL)",
        )
        == 0
    )
    assert 0.5 < scalar(db, "SELECT avg((channel = 'online')::int) FROM orders") < 0.75


def test_statuses_follow_returns(db: duckdb.DuckDBPyConnection) -> None:
    wrong = """
        SELECT count(*) FROM orders o JOIN (
            SELECT order_id, count(*) AS n, sum(returned::int) AS r FROM order_items GROUP BY
                order_id
        ) USING (order_id)
        WHERE (status = 'completed' AND r > 0) OR (status = 'returned' AND r <> n)
           OR (status = 'partially_returned' AND (r = 0 OR r = n)) OR (status = 'cancelled' AND
               r > 0)
    """
    assert scalar(db, wrong) == 0
    stamps = "SELECT count(*) FROM order_items WHERE returned <> (returned_at IS NOT NULL)"
    assert scalar(db, stamps) == 0
    late = """
        SELECT count(*) FROM order_items i JOIN orders o USING (order_id)
        WHERE i.returned_at <= o.ordered_at
    """
    assert scalar(db, late) == 0


def test_times_fall_inside_the_history(db: duckdb.DuckDBPyConnection) -> None:
    start, end = CONFIG.start, CONFIG.end_exclusive
    for table, column in [
        ("orders", "ordered_at"), ("events", "timestamp"), ("customers", "created_at"),
        ("order_items", "returned_at"),
    ]:  # fmt: skip
        outside = f"SELECT count(*) FROM {table} WHERE {column} < '{start}' OR {column} >= '{end}'"
        assert scalar(db, outside) == 0, (table, column)
    assert scalar(db, "SELECT count(*) FROM events WHERE received_at < timestamp") == 0
    assert scalar(db, "SELECT count(*) FROM customers WHERE updated_at < created_at") == 0


def test_nothing_happens_to_a_record_before_it_exists(db: duckdb.DuckDBPyConnection) -> None:
    events = """
        SELECT count(*) FROM events e JOIN customers c ON c.customer_id = e.user_id
        WHERE e.timestamp < c.created_at
    """
    assert scalar(db, events) == 0
    orders = """
        SELECT count(*) FROM orders o JOIN customers c USING (customer_id)
        WHERE o.ordered_at < c.created_at
    """
    assert scalar(db, orders) == 0


def test_event_vocabulary(db: duckdb.DuckDBPyConnection) -> None:
    rows = db.execute("SELECT type, event, count(*) FROM events GROUP BY ALL").fetchall()
    kinds = {(t, e) for t, e, _ in rows}
    for t, e in kinds:
        if t == "track":
            assert e in SEGMENT_ECOMMERCE | SEGMENT_EMAIL
        elif t == "page":
            assert e in PAGE_NAMES
        else:
            assert (t, e) == ("identify", None)
    assert {e for _, e in kinds} >= SEGMENT_ECOMMERCE | SEGMENT_EMAIL | PAGE_NAMES


def test_json_is_valid_and_matches_the_columns(db: duckdb.DuckDBPyConnection) -> None:
    invalid = """
        SELECT count(*) FROM events WHERE NOT json_valid(properties) OR NOT json_valid(context)
           OR NOT json_valid(traits)
    """
    assert scalar(db, invalid) == 0
    columns = ["product_id", "category", "brand", "cart_id", "order_id", "campaign_id"]
    for column in columns:
        differs = (
            f"SELECT count(*) FROM events WHERE (properties->>'{column}') IS DISTINCT FROM {column}"
        )
        assert scalar(db, differs) == 0, column
    numbers = """
        SELECT count(*) FROM events
        WHERE (properties->>'price')::decimal(18, 2) IS DISTINCT FROM price
           OR (properties->>'quantity')::int IS DISTINCT FROM quantity
           OR (properties->>'revenue')::decimal(18, 2) IS DISTINCT FROM revenue
    """
    assert scalar(db, numbers) == 0
    web_context = (
        "SELECT count(*) FROM events WHERE (anonymous_id IS NOT NULL) <> "
        "((context->'page'->>'url') IS NOT NULL)"
    )
    assert scalar(db, web_context) == 0
    agents = (
        "SELECT count(*) FROM events WHERE anonymous_id IS NOT NULL AND "
        "(context->>'userAgent') IS NULL"
    )
    assert scalar(db, agents) == 0


def test_every_online_order_completes_once_at_its_time(db: duckdb.DuckDBPyConnection) -> None:
    mismatch = """
        SELECT count(*) FROM orders o FULL JOIN (
            SELECT order_id, count(*) AS n, min(timestamp) AS at, min(cart_id) AS cart,
                   min(revenue) AS revenue, min(user_id) AS user_id
            FROM events WHERE event = 'Order Completed' GROUP BY order_id) e USING (order_id)
        WHERE (o.channel = 'online') <> (coalesce(e.n, 0) = 1)
           OR (o.channel = 'online' AND (e.at <> o.ordered_at OR e.cart <> o.cart_id
               OR e.revenue <> o.total OR e.user_id IS DISTINCT FROM o.customer_id))
    """
    assert scalar(db, mismatch) == 0


def test_sessions_put_the_order_after_the_checkout(db: duckdb.DuckDBPyConnection) -> None:
    out_of_order = """
        SELECT count(*) FROM events c JOIN events o
          ON c.cart_id = o.cart_id AND o.event = 'Order Completed'
        WHERE c.event IN ('Product Added', 'Cart Viewed', 'Checkout Started')
          AND c.timestamp >= o.timestamp
    """
    assert scalar(db, out_of_order) == 0


def test_users_appear_only_after_their_device_signs_in(db: duckdb.DuckDBPyConnection) -> None:
    first_identify = """
        CREATE TEMP TABLE identified AS
        SELECT anonymous_id, min(timestamp) AS at FROM events WHERE type = 'identify' GROUP BY 1
    """
    db.execute(first_identify)
    early = """
        SELECT count(*) FROM events e LEFT JOIN identified i USING (anonymous_id)
        WHERE e.anonymous_id IS NOT NULL AND e.user_id IS NOT NULL AND (i.at IS NULL OR
            e.timestamp < i.at)
    """
    assert scalar(db, early) == 0
    late_anonymous = """
        SELECT count(*) FROM events e JOIN identified i USING (anonymous_id)
        WHERE e.timestamp >= i.at AND e.user_id IS NULL
    """
    assert scalar(db, late_anonymous) == 0
    assert (
        scalar(
            db,
            "SELECT count(*) FROM events WHERE type = 'identify' AND (user_id IS NULL OR "
            "traits IS NULL OR anonymous_id IS NULL)",
        )
        == 0
    )
    traits = """
        SELECT count(*) FROM events e JOIN customers c ON c.customer_id = e.user_id
        WHERE e.type = 'identify' AND (e.traits->>'email') IS DISTINCT FROM c.email
    """
    assert scalar(db, traits) == 0
    never = (
        "SELECT count(DISTINCT anonymous_id) FROM events WHERE anonymous_id NOT IN (SELECT "
        "anonymous_id FROM identified)"
    )
    assert scalar(db, never) > 0


def test_email_events_belong_to_consenting_records(db: duckdb.DuckDBPyConnection) -> None:
    no_address = """
        SELECT count(*) FROM events e JOIN customers c ON c.customer_id = e.user_id
        WHERE e.event LIKE 'Email%' AND c.email IS NULL
    """
    assert scalar(db, no_address) == 0
    after_unsubscribe = """
        SELECT count(*) FROM events e JOIN (
            SELECT user_id, min(timestamp) AS at FROM events WHERE event = 'Unsubscribed' GROUP BY 1
        ) u USING (user_id)
        WHERE e.event = 'Email Delivered' AND e.timestamp > u.at
    """
    assert scalar(db, after_unsubscribe) == 0
    consent = """
        SELECT count(*) FROM customers c JOIN (
            SELECT DISTINCT user_id FROM events WHERE event = 'Unsubscribed') u ON u.user_id =
                c.customer_id
        WHERE c.accepts_email_marketing
    """
    assert scalar(db, consent) == 0
    truth = """
        SELECT count(*) FROM truth_records r FULL JOIN (
            SELECT user_id AS customer_id, min(timestamp) AS at FROM events
            WHERE event = 'Unsubscribed' GROUP BY 1) u USING (customer_id)
        WHERE r.unsubscribed_at IS DISTINCT FROM u.at
    """
    assert scalar(db, truth) == 0
    bounced_twice = (
        "SELECT count(*) FROM (SELECT user_id FROM events WHERE event = 'Email Bounced' GROUP "
        "BY 1 HAVING count(*) > 1)"
    )
    assert scalar(db, bounced_twice) == 0
    bounce_truth = """
        SELECT count(*) FROM events e JOIN truth_records r ON r.customer_id = e.user_id
        WHERE e.event = 'Email Bounced' AND NOT r.email_bounces
    """
    assert scalar(db, bounce_truth) == 0


def test_truth_maps_every_record_and_person(db: duckdb.DuckDBPyConnection) -> None:
    assert (
        scalar(db, "SELECT count(*) FROM customers c ANTI JOIN truth_records r USING (customer_id)")
        == 0
    )
    assert scalar(db, "SELECT count(DISTINCT person_id) FROM truth_records") == CONFIG.customers
    assert (
        scalar(db, "SELECT count(*) FROM truth_records WHERE NOT is_duplicate") == CONFIG.customers
    )
    devices = (
        "SELECT count(DISTINCT anonymous_id) FROM events WHERE anonymous_id NOT IN (SELECT "
        "anonymous_id FROM truth_devices)"
    )
    assert scalar(db, devices) == 0
    accounts = """
        SELECT count(*) FROM events e JOIN truth_devices d USING (anonymous_id)
        WHERE e.user_id IS NOT NULL AND e.user_id <> d.customer_id
    """
    assert scalar(db, accounts) == 0
