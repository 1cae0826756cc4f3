"""Checking Segment Tracking API messages (pure): what to accept, what to refuse and why.

Follows Segment's HTTP Tracking API: six call types, `userId` or `anonymousId` on every call,
32 KB per message and 500 KB per batch, and clock-skew correction of `timestamp` by `sentAt`.
A bad message is refused on its own; its neighbours in the batch are still accepted.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_MESSAGES = 2500
CALL_TYPES = frozenset({"track", "page", "screen", "identify", "group", "alias"})


@dataclass(frozen=True)
class Refusal:
    """A message that was not accepted: its place in the batch, its id, and why."""

    index: int
    message_id: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """The refusal as it appears in the API's reply."""
        return {"index": self.index, "messageId": self.message_id, "reason": self.reason}


@dataclass
class Checked:
    """A batch after checking: the accepted messages, normalized, and the refusals."""

    accepted: list[dict[str, Any]] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


class BadRequest(ValueError):
    """The whole request is unusable (not JSON, too large, not a batch)."""


def parse_body(body: bytes, limit: int = MAX_BATCH_BYTES) -> Any:
    """The request body as JSON, refusing bodies over `limit` bytes or not JSON."""
    if len(body) > limit:
        raise BadRequest(f"body is {len(body):,} bytes; the limit is {limit:,}")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise BadRequest(f"body is not valid JSON: {err}") from None


def check_batch(payload: Any, received_at: dt.datetime, id_seed: str | None = None) -> Checked:
    """Check a `/v1/batch` payload: `{"batch": [...], "sentAt"?: ...}`.

    `id_seed` makes the ids given to messages without a messageId repeatable (the loader
    passes the journal position, so a replay gives the same ids and deduplicates).
    """
    if not isinstance(payload, Mapping):
        raise BadRequest("body must be a JSON object with a 'batch' array")
    batch = payload.get("batch")
    if not isinstance(batch, list):
        raise BadRequest("body must have a 'batch' array of messages")
    if len(batch) > MAX_BATCH_MESSAGES:
        raise BadRequest(f"batch has {len(batch):,} messages; the limit is {MAX_BATCH_MESSAGES:,}")
    shared = {k: payload.get(k) for k in ("context", "integrations")}
    for key, value in shared.items():
        if value is not None and not isinstance(value, Mapping):
            raise BadRequest(f"batch '{key}' must be an object")
    try:
        sent_at = _parse_time(payload.get("sentAt"))
    except _Refused as err:
        raise BadRequest(f"batch {err}") from None
    checked = Checked()
    for index, message in enumerate(batch):
        _check_into(
            checked, index, _with_shared(message, shared), None, sent_at, received_at, id_seed
        )
    return checked


def _with_shared(message: Any, shared: Mapping[str, Any]) -> Any:
    """A message with the batch's context and integrations under its own (its own win)."""
    if not isinstance(message, Mapping) or not any(shared.values()):
        return message
    merged = dict(message)
    for key, value in shared.items():
        if value:
            own = message.get(key)
            merged[key] = (
                {**value, **own}
                if isinstance(own, Mapping)
                else (own if own is not None else dict(value))
            )
    return merged


def check_single(
    payload: Any, call_type: str, received_at: dt.datetime, id_seed: str | None = None
) -> Checked:
    """Check one message posted to `/v1/<call_type>`; its type is the endpoint's."""
    if not isinstance(payload, Mapping):
        raise BadRequest("body must be a JSON object")
    checked = Checked()
    _check_into(checked, 0, payload, call_type, None, received_at, id_seed)
    return checked


def _check_into(
    checked: Checked,
    index: int,
    message: Any,
    call_type: str | None,
    batch_sent_at: dt.datetime | None,
    received_at: dt.datetime,
    id_seed: str | None,
) -> None:
    # Only a message without a messageId needs one made up; most have their own.
    fallback_id = (
        str(uuid.uuid5(uuid.NAMESPACE_URL, f"lifetide:{id_seed}:{index}"))
        if id_seed and isinstance(message, Mapping) and not message.get("messageId")
        else None
    )
    try:
        checked.accepted.append(
            normalize(message, call_type, batch_sent_at, received_at, fallback_id)
        )
    except _Refused as refused:
        message_id = message.get("messageId") if isinstance(message, Mapping) else None
        checked.refused.append(
            Refusal(index, str(message_id) if message_id is not None else None, str(refused))
        )


class _Refused(ValueError):
    pass


def normalize(
    message: Any,
    call_type: str | None,
    batch_sent_at: dt.datetime | None,
    received_at: dt.datetime,
    fallback_id: str | None = None,
) -> dict[str, Any]:
    """One message checked and in canonical form, or _Refused with the reason."""
    if not isinstance(message, Mapping):
        raise _Refused("message must be a JSON object")
    kind = call_type or message.get("type")
    if kind not in CALL_TYPES:
        raise _Refused(f"unknown type {kind!r}; expected one of {', '.join(sorted(CALL_TYPES))}")
    user_id = _identifier(message.get("userId"))
    anonymous_id = _identifier(message.get("anonymousId"))
    if user_id is None and anonymous_id is None:
        raise _Refused("message needs a userId or an anonymousId")
    if len(orjson.dumps(message)) > MAX_MESSAGE_BYTES:
        raise _Refused(f"message is larger than {MAX_MESSAGE_BYTES // 1024} KB")

    out: dict[str, Any] = {
        "type": kind,
        "messageId": _identifier(message.get("messageId")) or fallback_id or str(uuid.uuid4()),
        "userId": user_id,
        "anonymousId": anonymous_id,
        "event": None,
    }
    if kind == "track":
        event = message.get("event")
        if not isinstance(event, str) or not event.strip():
            raise _Refused("a track call needs an 'event' name")
        out["event"] = event.strip()
    elif kind in ("page", "screen"):
        name = message.get("name")
        out["event"] = name.strip() if isinstance(name, str) and name.strip() else None
    elif kind == "group":
        group_id = _identifier(message.get("groupId"))
        if group_id is None:
            raise _Refused("a group call needs a 'groupId'")
        out["groupId"] = group_id
    elif kind == "alias":
        previous = _identifier(message.get("previousId"))
        if previous is None or user_id is None:
            raise _Refused("an alias call needs 'previousId' and 'userId'")
        out["previousId"] = previous

    for key in ("properties", "context", "integrations"):
        value = message.get(key)
        if value is not None and not isinstance(value, Mapping):
            raise _Refused(f"'{key}' must be an object")
        out[key] = dict(value) if value else {}
    traits = message.get("traits")
    if traits is not None and not isinstance(traits, Mapping):
        raise _Refused("'traits' must be an object")
    # Segment's SDKs put identify traits at the top level; RudderStack's in context.traits.
    context_traits = out["context"].get("traits")
    merged = dict(context_traits) if isinstance(context_traits, Mapping) else {}
    merged.update(traits or {})
    out["traits"] = merged

    out["receivedAt"] = received_at
    out["timestamp"] = corrected_timestamp(message, batch_sent_at, received_at)
    return out


def corrected_timestamp(
    message: Mapping[str, Any], batch_sent_at: dt.datetime | None, received_at: dt.datetime
) -> dt.datetime:
    """When the event happened, corrected for the device's clock as Segment does.

    timestamp = receivedAt - (sentAt - originalTimestamp): the device's clock error is the
    gap between its sentAt and our receivedAt, and is removed from its timestamp.
    """
    original = _parse_time(message.get("timestamp"), "timestamp")
    sent_at = _parse_time(message.get("sentAt"), "sentAt") or batch_sent_at
    if original is None:
        return received_at
    if sent_at is None:
        return original
    return received_at - (sent_at - original)


def _parse_time(value: Any, field_name: str = "sentAt") -> dt.datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Refused(f"'{field_name}' must be an ISO 8601 string")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _Refused(f"'{field_name}' is not an ISO 8601 time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _identifier(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        return text or None
    return None
