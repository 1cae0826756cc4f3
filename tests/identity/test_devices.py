"""A shared device stays with the first account seen on it; it never joins two people."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from lifetide.context import Lifetide
from lifetide.identity.resolver import IdentityResolver
from lifetide.imports.service import import_file
from lifetide.ops.models import Identity
from tests.imports.conftest import write_csv

CUSTOMERS = [
    [
        "customer_id",
        "source",
        "email",
        "first_name",
        "last_name",
        "accepts_email_marketing",
        "accepts_sms_marketing",
        "created_at",
    ],
    ["U1", "ecommerce", "ana@example.com", "Ana", "Silva", "true", "false", "2024-01-01T00:00:00Z"],
    ["U2", "ecommerce", "bo@example.com", "Bo", "Park", "false", "false", "2024-01-02T00:00:00Z"],
    ["C9", "crm", "ANA@example.com", "Ana", "Silva", "false", "false", "2025-06-01T00:00:00Z"],
]
EVENTS = [
    ["message_id", "type", "event", "timestamp", "user_id", "anonymous_id"],
    ["e1", "page", "Home", "2024-02-01T10:00:00Z", "", "shared-tablet"],
    ["e2", "identify", "", "2024-02-01T10:01:00Z", "U1", "shared-tablet"],
    ["e3", "identify", "", "2024-03-01T10:00:00Z", "U2", "shared-tablet"],
    ["e4", "identify", "", "2024-03-02T10:00:00Z", "U2", "bo-phone"],
]


def test_shared_device_and_merged_records(app: Lifetide, tmp_path: Path) -> None:
    import_file(app.warehouse, "customers", write_csv(tmp_path / "customers.csv", CUSTOMERS))
    import_file(app.warehouse, "events", write_csv(tmp_path / "events.csv", EVENTS))
    summary = IdentityResolver(app.warehouse, app.sessions, app.clock, probabilistic=False).run()
    assert (summary.records, summary.profiles, summary.device_conflicts) == (3, 2, 1)
    with app.sessions() as session:
        owner = dict(session.execute(select(Identity.value, Identity.customer_id)).all())
    assert owner["U1"] == owner["C9"] == owner["shared-tablet"]
    assert owner["U2"] == owner["bo-phone"] != owner["U1"]
