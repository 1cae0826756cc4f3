"""The warehouse tables measurement reads besides orders and events: sends and exposures.

Both are copies of operational rows that never change once copied (a settled send, a first
exposure; see measure.sync), so the warehouse only ever appends to them. What customers did
with a message afterwards (opened, clicked, bounced, unsubscribed) is in `events`.
"""

from __future__ import annotations

from typing import Any

import ibis

SENDS = "message_sends"
EXPOSURES = "exposures"

SENDS_SCHEMA = ibis.schema(
    {
        "send_key": "!string",
        "profile_id": "int64",
        "journey_id": "int64",
        "step": "string",
        "channel": "string",
        "template": "string",
        "marketing": "boolean",
        # sent | bounced (refused by the receiving server) | skipped | failed
        "status": "string",
        "reason": "string",
        "promo_code": "string",
        "created_at": "timestamp",
        # When the provider accepted it; null unless sent.
        "sent_at": "timestamp",
    }
)
EXPOSURES_SCHEMA = ibis.schema(
    {
        "experiment": "!string",
        "profile_id": "!int64",
        "arm": "!string",
        "journey_id": "int64",
        "send_key": "string",
        "first_at": "!timestamp",
    }
)
SCHEMAS = {SENDS: SENDS_SCHEMA, EXPOSURES: EXPOSURES_SCHEMA}


def ensure_measure_tables(backend: Any) -> None:
    """Create the measurement tables where they are missing."""
    existing = set(backend.list_tables())
    for name, schema in SCHEMAS.items():
        if name not in existing:
            backend.create_table(name, schema=schema)
