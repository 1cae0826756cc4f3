"""The tracking API in process: what is accepted is durable, then reaches the warehouse."""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from lifetide.collect.loader import WarehouseLoader
from lifetide.context import Lifetide
from lifetide.ops.models import ShopperActivity
from lifetide.web.app import create_app
from tests.collect.server import server_thread


@pytest.fixture
def client(app: Lifetide) -> Iterator[TestClient]:
    with TestClient(create_app(app)) as test_client:
        yield test_client


@pytest.fixture
def key(app: Lifetide) -> str:
    return app.sources.create("web").write_key


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def post(
    client: TestClient, key: str, batch: list[dict[str, Any]], *, gzipped: bool = False
) -> Any:
    body = orjson.dumps({"batch": batch, "sentAt": "2026-11-22T12:00:00Z"})
    headers = basic(key) | {"Content-Type": "application/json"}
    if gzipped:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    return client.post("/v1/batch", content=body, headers=headers)


ORDER = {
    "type": "track",
    "event": "Order Completed",
    "userId": "u1",
    "messageId": "m-order",
    "timestamp": "2026-11-22T11:59:00Z",
    "properties": {
        "order_id": "W1",
        "total": 54.5,
        "tax": 4.5,
        "currency": "usd",
        "coupon": "SPRING15",
        "products": [
            {
                "product_id": "P1",
                "category": "skincare",
                "brand": "Acme",
                "price": 12.5,
                "quantity": 2,
            },
            {"sku": "SKU-2", "category": "makeup", "brand": "Rouge", "price": 25},
        ],
    },
}


def test_batch_is_durable_then_loaded_with_orders_and_dedup(
    app: Lifetide, client: TestClient, key: str
) -> None:
    batch = [
        {
            "type": "track",
            "event": "Product Viewed",
            "anonymousId": "a1",
            "messageId": "m1",
            "properties": {"product_id": "P1", "price": "12.50", "category": "skincare"},
        },
        {
            "type": "identify",
            "userId": "u1",
            "anonymousId": "a1",
            "messageId": "m2",
            "context": {"traits": {"email": "Ana@Example.com", "firstName": "Ana"}},
        },
        ORDER,
    ]
    assert post(client, key, batch, gzipped=True).json() == {"success": True}
    assert post(client, key, batch).status_code == 200  # a re-send
    assert app.journal.last_seq() == 2

    loader = WarehouseLoader(app.journal, app.warehouse)
    assert loader.load_all() == 6
    con = app.warehouse.duckdb
    assert con.execute("SELECT count(*) FROM events").fetchone() == (3,)
    assert con.execute(
        "SELECT product_id, price FROM events WHERE message_id = 'm1'"
    ).fetchone() == ("P1", Decimal("12.50"))
    assert con.execute(
        "SELECT customer_id, channel, total, tax, currency, promo_code, subtotal FROM orders"
    ).fetchall() == [
        ("u1", "online", Decimal("54.50"), Decimal("4.50"), "USD", "SPRING15", Decimal("50.00"))
    ]
    assert con.execute(
        "SELECT line_number, product_id, quantity FROM order_items ORDER BY 1"
    ).fetchall() == [
        (1, "P1", 2),
        (2, "SKU-2", 1),
    ]
    assert con.execute("SELECT source, email, first_name FROM customers").fetchall() == [
        ("api", "Ana@Example.com", "Ana")
    ]
    assert loader.load_once().requests == 0  # caught up


def test_the_workers_loader_keeps_cart_and_view_events_for_messages(
    app: Lifetide, client: TestClient, key: str
) -> None:
    viewed = {
        "type": "track",
        "event": "Product Viewed",
        "anonymousId": "a1",
        "messageId": "v1",
        "properties": {"product_id": "P1", "name": "Rose Cleanser", "price": "12.50"},
    }
    added = {**viewed, "event": "Product Added", "messageId": "c1", "userId": "u1"}
    added["properties"] = {"product_id": "P2", "cart_id": "k1", "quantity": 2}
    post(client, key, [viewed, added, ORDER])
    assert app.loader().load_all() == 3
    post(client, key, [viewed])  # a re-send
    app.loader().load_all()
    with app.sessions() as session:
        kept = session.execute(
            select(
                ShopperActivity.message_id, ShopperActivity.user_id, ShopperActivity.anonymous_id,
                ShopperActivity.product_id, ShopperActivity.cart_id, ShopperActivity.quantity,
                ShopperActivity.name, ShopperActivity.price,
            ).order_by(ShopperActivity.message_id)
        ).all()  # fmt: skip
    assert [tuple(r) for r in kept] == [
        ("c1", "u1", "a1", "P2", "k1", 2, None, None),
        ("v1", None, "a1", "P1", None, None, "Rose Cleanser", Decimal("12.50")),
    ]


def test_refunds_mark_items_and_order(app: Lifetide, client: TestClient, key: str) -> None:
    refund = {
        "type": "track",
        "event": "Order Refunded",
        "userId": "u1",
        "messageId": "m-ref",
        "properties": {"order_id": "W1", "products": [{"product_id": "P1"}]},
    }
    post(client, key, [ORDER])
    post(client, key, [refund])
    WarehouseLoader(app.journal, app.warehouse).load_all()
    con = app.warehouse.duckdb
    assert con.execute("SELECT status FROM orders").fetchone() == ("partially_returned",)
    assert con.execute("SELECT product_id FROM order_items WHERE returned").fetchall() == [("P1",)]


def test_partial_batch_keeps_good_messages_and_says_which_were_refused(
    app: Lifetide, client: TestClient, key: str
) -> None:
    reply = post(
        client,
        key,
        [
            {"type": "track", "event": "A", "userId": "u1", "messageId": "ok1"},
            {"type": "track", "event": "B", "messageId": "bad1"},
            {"type": "nonsense", "userId": "u1", "messageId": "bad2"},
        ],
    )
    assert reply.status_code == 400
    body = reply.json()
    assert body["accepted"] == 1
    assert [(r["index"], r["messageId"]) for r in body["refused"]] == [(1, "bad1"), (2, "bad2")]
    WarehouseLoader(app.journal, app.warehouse).load_all()
    assert app.warehouse.duckdb.execute("SELECT message_id FROM events").fetchall() == [("ok1",)]


@pytest.mark.parametrize(
    ("headers", "body", "status", "words"),
    [
        ({}, b'{"batch": []}', 401, "missing write key"),
        (
            {"Authorization": "Basic " + base64.b64encode(b"lt_wk_nope:").decode()},
            b'{"batch": []}',
            401,
            "unknown or revoked",
        ),
        ({"__auth__": ""}, b"{not json", 400, "not valid JSON"),
        ({"__auth__": "", "Content-Encoding": "gzip"}, b"not gzip", 400, "not valid gzip"),
        ({"__auth__": "", "Content-Encoding": "br"}, b"{}", 400, "unsupported Content-Encoding"),
        ({"__auth__": ""}, b'{"batch": "x"}', 400, "'batch' array"),
        ({"__auth__": ""}, b"[" + b" " * 600_000 + b"]", 400, "the limit is 512,000"),
        (
            {"__auth__": "", "Content-Encoding": "gzip"},
            gzip.compress(b" " * 2_000_000),
            400,
            "decompressed body is over",
        ),
    ],
    ids=[
        "no key",
        "bad key",
        "bad json",
        "bad gzip",
        "unknown encoding",
        "not a batch",
        "too big",
        "gzip bomb",
    ],
)
def test_error_replies(
    app: Lifetide, key: str, headers: dict[str, str], body: bytes, status: int, words: str
) -> None:
    if "__auth__" in headers:
        headers = {k: v for k, v in headers.items() if k != "__auth__"} | basic(key)
    # Plain HTTP to the real server on loopback, as a misbehaving client would send it.
    with server_thread(app) as url:
        reply = httpx.post(f"{url}/v1/batch", content=body, headers=headers, timeout=10)
    assert reply.status_code == status
    assert words in reply.json()["message"]


def test_write_key_in_body_and_single_endpoints(
    app: Lifetide, client: TestClient, key: str
) -> None:
    reply = client.post(
        "/v1/batch",
        content=orjson.dumps(
            {
                "writeKey": key,
                "batch": [{"type": "page", "anonymousId": "a9", "name": "Home", "messageId": "p1"}],
            }
        ),
    )
    assert reply.status_code == 200
    for call, message in [
        ("track", {"userId": "u9", "event": "Cart Viewed", "messageId": "t1"}),
        ("identify", {"userId": "u9", "traits": {"email": "z@x.io"}, "messageId": "i1"}),
        ("alias", {"userId": "u9", "previousId": "a9", "messageId": "al1"}),
        ("screen", {"userId": "u9", "name": "Cart", "messageId": "s1"}),
        ("group", {"userId": "u9", "groupId": "g1", "messageId": "g1"}),
    ]:
        assert client.post(f"/v1/{call}", json=message, headers=basic(key)).status_code == 200, call
    WarehouseLoader(app.journal, app.warehouse).load_all()
    types = app.warehouse.duckdb.execute("SELECT type FROM events ORDER BY type").fetchall()
    assert [t for (t,) in types] == ["alias", "group", "identify", "page", "screen", "track"]


def test_revoked_key_is_refused(app: Lifetide, client: TestClient, key: str) -> None:
    app.sources.revoke("web")
    fresh = TestClient(create_app(app))  # a new process: no cached answer
    with fresh:
        assert post(fresh, key, [{"type": "track", "event": "x", "userId": "u"}]).status_code == 401


def test_health_needs_no_key(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
