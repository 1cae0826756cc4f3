"""Which Segment messages are accepted, which refused and why (pure, no server)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from lifetide.collect.messages import (
    MAX_BATCH_BYTES,
    BadRequest,
    check_batch,
    check_single,
    corrected_timestamp,
    parse_body,
)

NOW = dt.datetime(2026, 11, 22, 12, 0, 0, tzinfo=dt.UTC)


def one(message: dict[str, Any]) -> dict[str, Any] | str:
    checked = check_batch({"batch": [message]}, NOW)
    return checked.accepted[0] if checked.accepted else checked.refused[0].reason


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"type": "track", "event": "Product Viewed"}, "needs a userId or an anonymousId"),
        ({"type": "click", "userId": "u1"}, "unknown type 'click'"),
        ({"userId": "u1"}, "unknown type None"),
        ({"type": "track", "userId": "u1"}, "needs an 'event' name"),
        ({"type": "track", "userId": "u1", "event": "  "}, "needs an 'event' name"),
        ({"type": "alias", "userId": "u1"}, "needs 'previousId' and 'userId'"),
        ({"type": "group", "userId": "u1"}, "needs a 'groupId'"),
        (
            {"type": "track", "userId": "u1", "event": "x", "properties": [1]},
            "'properties' must be an object",
        ),
        (
            {"type": "track", "userId": "u1", "event": "x", "timestamp": "yesterday"},
            "not an ISO 8601 time",
        ),
        (
            {"type": "track", "userId": "u1", "event": "x", "properties": {"p": "x" * 33_000}},
            "larger than 32 KB",
        ),
        ("just a string", "must be a JSON object"),
    ],
)
def test_refused_messages_say_why(message: Any, reason: str) -> None:
    result = one(message)
    assert isinstance(result, str)
    assert reason in result


def test_a_bad_message_does_not_take_its_neighbours_down() -> None:
    batch = [
        {"type": "track", "userId": "u1", "event": "A", "messageId": "m1"},
        {"type": "track", "event": "B", "messageId": "m2"},
        {"type": "page", "anonymousId": "a1", "name": "Home", "messageId": "m3"},
    ]
    checked = check_batch({"batch": batch}, NOW)
    assert [m["messageId"] for m in checked.accepted] == ["m1", "m3"]
    assert [r.as_dict() for r in checked.refused] == [
        {"index": 1, "messageId": "m2", "reason": "message needs a userId or an anonymousId"}
    ]


def test_identify_traits_from_segment_top_level_and_rudder_context_are_merged() -> None:
    segment = one({"type": "identify", "userId": "u1", "traits": {"email": "a@x.com"}})
    rudder = one({"type": "identify", "userId": "u1", "context": {"traits": {"email": "a@x.com"}}})
    assert isinstance(segment, dict) and isinstance(rudder, dict)
    assert segment["traits"] == rudder["traits"] == {"email": "a@x.com"}


def test_numeric_ids_become_strings_and_missing_message_id_is_assigned() -> None:
    result = one({"type": "track", "userId": 42, "event": "x"})
    assert isinstance(result, dict)
    assert result["userId"] == "42"
    assert len(result["messageId"]) == 36


def test_endpoint_type_wins_over_body_type() -> None:
    checked = check_single({"userId": "u1", "event": "Order Completed"}, "track", NOW)
    assert checked.accepted[0]["type"] == "track"


@pytest.mark.parametrize(
    ("timestamp", "sent_at", "expected"),
    [
        # device clock 1 hour fast: its times are moved back by the hour
        ("2026-11-22T12:59:00Z", "2026-11-22T13:00:00Z", NOW - dt.timedelta(minutes=1)),
        ("2026-11-22T11:59:00Z", None, dt.datetime(2026, 11, 22, 11, 59, tzinfo=dt.UTC)),
        (None, "2026-11-22T13:00:00Z", NOW),
        ("2026-11-22T13:59:00+02:00", "2026-11-22T12:00:00Z", NOW - dt.timedelta(minutes=1)),
    ],
)
def test_timestamp_correction(
    timestamp: str | None, sent_at: str | None, expected: dt.datetime
) -> None:
    message = {"timestamp": timestamp, "sentAt": sent_at}
    assert corrected_timestamp(message, None, NOW) == expected


def test_batch_sent_at_applies_to_each_message() -> None:
    payload = {
        "sentAt": "2026-11-22T12:10:00Z",
        "batch": [
            {"type": "track", "userId": "u", "event": "x", "timestamp": "2026-11-22T12:09:00Z"}
        ],
    }
    assert check_batch(payload, NOW).accepted[0]["timestamp"] == NOW - dt.timedelta(minutes=1)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{not json", "not valid JSON"),
        (b"x" * (MAX_BATCH_BYTES + 1), "the limit is 512,000"),
    ],
)
def test_unusable_bodies(body: bytes, words: str) -> None:
    with pytest.raises(BadRequest, match=words):
        parse_body(body)


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ([], "JSON object with a 'batch'"),
        ({"batch": {}}, "'batch' array"),
        ({"batch": [], "sentAt": 5}, "batch 'sentAt'"),
    ],
)
def test_unusable_batches(payload: Any, words: str) -> None:
    with pytest.raises(BadRequest, match=words):
        check_batch(payload, NOW)


def test_batch_context_and_integrations_reach_every_message_under_its_own() -> None:
    payload = {
        "context": {"library": {"name": "shop-backend"}, "ip": "1.2.3.4"},
        "integrations": {"All": True},
        "batch": [
            {"type": "track", "userId": "u", "event": "x", "context": {"ip": "5.6.7.8"}},
            {"type": "track", "userId": "u", "event": "y"},
        ],
    }
    first, second = check_batch(payload, NOW).accepted
    assert first["context"] == {"library": {"name": "shop-backend"}, "ip": "5.6.7.8"}
    assert second["context"] == {"library": {"name": "shop-backend"}, "ip": "1.2.3.4"}
    assert first["integrations"] == second["integrations"] == {"All": True}


def test_more_than_2500_messages_is_refused() -> None:
    batch = [{"type": "track", "userId": "u", "event": "x"}] * 2501
    with pytest.raises(BadRequest, match="2,501 messages; the limit is 2,500"):
        check_batch({"batch": batch}, NOW)
