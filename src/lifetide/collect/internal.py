"""Events Lifetide itself records (e-mail opened, clicked, bounced) into the same journal.

They take the tracking API's path, so the warehouse, segments and journeys see them like any
other event. The public API always journals with a source id; these carry none, which is how the
journey engine knows it may trust the profile id they name in `context.lifetide`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from lifetide.collect.journal import Entry, Journal


def internal_track(
    event: str,
    *,
    profile_id: int,
    at: dt.datetime,
    properties: Mapping[str, Any],
    user_id: str | None = None,
    anonymous_id: str | None = None,
    message_id: str | None = None,
) -> dict[str, Any]:
    """A Segment track message for `event` of profile `profile_id`."""
    message: dict[str, Any] = {
        "type": "track",
        "event": event,
        "messageId": message_id or f"lifetide-{uuid.uuid4()}",
        "timestamp": at.astimezone(dt.UTC).isoformat(),
        "properties": dict(properties),
        "context": {"lifetide": {"profile_id": profile_id}},
    }
    if user_id:
        message["userId"] = user_id
    # The API refuses a message with neither id; one that names no known id still reaches the
    # journey engine through its profile id.
    message["anonymousId"] = anonymous_id or f"lifetide-profile-{profile_id}"
    return message


def append_internal(journal: Journal, messages: list[dict[str, Any]], at: dt.datetime) -> int:
    """Journal `messages` as one batch with no source; its sequence number once durable."""
    body = orjson.dumps({"batch": messages, "sentAt": at.astimezone(dt.UTC).isoformat()})
    return journal.append(body, received_at=at, messages=len(messages)).result()


def trusted_profile(entry: Entry, message: Mapping[str, Any]) -> int | None:
    """The profile an internal message names; None for messages from the public API."""
    if entry.source_id is not None:
        return None
    context = message.get("context")
    lifetide = context.get("lifetide") if isinstance(context, Mapping) else None
    profile = lifetide.get("profile_id") if isinstance(lifetide, Mapping) else None
    return profile if isinstance(profile, int) and not isinstance(profile, bool) else None
