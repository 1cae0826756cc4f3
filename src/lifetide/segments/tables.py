"""The warehouse tables a segment reads, and those that hold its members and their changes.

This is the adapter between the pure compiler and a warehouse: it hands the compiler Ibis table
expressions and creates the membership tables the first time they are needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from lifetide.segments.fields import Catalog, catalog_for

MEMBERS = "segment_members"
CHANGES = "segment_changes"

MEMBERS_SCHEMA = ibis.schema({"segment_id": "!int64", "profile_id": "!int64"})
CHANGES_SCHEMA = ibis.schema(
    {
        "segment_id": "!int64",
        "refresh_id": "!int64",
        "profile_id": "!int64",
        # entered | exited
        "change": "!string",
        "changed_at": "!timestamp",
    }
)
# Before the first `lifetide score` or identity sync these exist empty, so a segment on
# profile traits or purchases compiles (and matches no one) instead of failing.
PROFILES_SCHEMA = ibis.schema(
    {
        "profile_id": "!int64",
        "email": "string",
        "email_domain": "string",
        "phone": "string",
        "first_name": "string",
        "last_name": "string",
        "country": "string",
        "region": "string",
        "city": "string",
        "postal_code": "string",
        "time_zone": "string",
        "birth_date": "date",
        "created_at": "timestamp",
        "email_consent": "boolean",
        "sms_consent": "boolean",
    }
)
PROFILE_KEYS_SCHEMA = ibis.schema({"kind": "!string", "value": "!string", "profile_id": "!int64"})


@dataclass(frozen=True)
class Tables:
    """Ibis expressions of every table a segment can read."""

    profiles: ir.Table
    profile_keys: ir.Table
    orders: ir.Table
    order_items: ir.Table
    events: ir.Table
    members: ir.Table
    predictions: ir.Table | None = None


def ensure_segment_tables(backend: Any) -> None:
    """Create the membership tables, and empty profile tables, where they are missing."""
    existing = set(backend.list_tables())
    wanted = {
        MEMBERS: MEMBERS_SCHEMA,
        CHANGES: CHANGES_SCHEMA,
        "profiles": PROFILES_SCHEMA,
        "profile_keys": PROFILE_KEYS_SCHEMA,
    }
    for name, schema in wanted.items():
        if name not in existing:
            backend.create_table(name, schema=schema)


def segment_tables(backend: Any) -> Tables:
    """The tables of the warehouse behind `backend` (an Ibis backend), for the compiler."""
    names = set(backend.list_tables())
    return Tables(
        profiles=backend.table("profiles"),
        profile_keys=backend.table("profile_keys"),
        orders=backend.table("orders"),
        order_items=backend.table("order_items"),
        events=backend.table("events"),
        members=backend.table(MEMBERS),
        predictions=backend.table("predictions") if "predictions" in names else None,
    )


def catalog_of(tables: Tables) -> Catalog:
    """The field catalog of these tables: profile traits, plus predictions once scored."""
    if tables.predictions is None:
        return catalog_for(None)
    schema = tables.predictions.schema()
    return catalog_for({name: str(dtype) for name, dtype in schema.items()})
