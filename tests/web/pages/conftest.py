"""A started Studio on the small segment shop, with one saved segment, and a way to sign in."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from lifetide.accounts.service import accounts_for
from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.segments.service import SegmentService
from lifetide.web.app import create_app
from tests.segments import small_shop
from tests.web.helpers import signed_in

Users = dict[str, tuple[str, str]]
SignIn = Callable[[str], str]
# Bought skincare (profiles 1 and 3; 2's order was cancelled) or is scored 'at_risk' (4).
DEFINITION = {
    "root": {
        "type": "group",
        "op": "or",
        "children": [
            {"type": "purchase", "filters": {"categories": ["skincare"]}},
            {"type": "prediction", "field": "lifecycle_stage", "op": "eq", "value": "at_risk"},
        ],
    }
}


@pytest.fixture
def shop(app: Lifetide, studio_users: Users) -> Lifetide:
    """The small shop, its clock at small_shop.NOW, and a segment 'Skincare or at risk'."""
    app.clock = ManualClock(small_shop.NOW)
    small_shop.build(app.warehouse.backend)
    marketer = accounts_for(app).user_by_email(studio_users["marketer"][0])
    SegmentService(app).create(
        "Skincare or at risk", DEFINITION, marketer, "Our test segment", refresh_minutes=60
    )
    return app


@pytest.fixture
def client(shop: Lifetide) -> Iterator[TestClient]:
    """A Studio on the shop; not following redirects, so tests see them."""
    with TestClient(create_app(shop), follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def sign_in(client: TestClient, studio_users: Users) -> SignIn:
    """Sign the client in as the user with a role; gives the session's CSRF token."""

    def as_role(role: str) -> str:
        return signed_in(client, *studio_users[role])

    return as_role
