"""Journey definitions: the graph is checked when it is read."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from lifetide.journeys.definition import Journey, SegmentTrigger, graph_problems


def journey(steps: dict[str, Any], start: str = "a", **extra: Any) -> dict[str, Any]:
    return {
        "name": "J",
        "trigger": {"type": "segment", "segment_id": 1},
        "start": start,
        "steps": steps,
        **extra,
    }


SEND = {"type": "send", "template": "t"}

BAD: list[tuple[str, dict[str, Any], str]] = [
    ("start missing", journey({"a": SEND}, start="b"), "start step 'b'"),
    ("leads nowhere", journey({"a": {**SEND, "next": "b"}}), "leads to 'b'"),
    ("unreached", journey({"a": SEND, "b": SEND}), "never reached"),
    ("bad id", journey({"A b": SEND}, start="A b"), "step id"),
    ("wait both ways", journey({"a": {"type": "wait", "minutes": 5, "until_local_time": "09:00"}}),
     "either"),
    ("split of one", journey({"a": {"type": "split", "paths": [{"weight": 1}]}}), "at least 2"),
    ("reentry without days", journey({"a": SEND}, reentry={"kind": "after_days"}), "needs days"),
    ("unknown trigger", {**journey({"a": SEND}), "trigger": {"type": "moon"}}, "trigger"),
    ("unknown key", journey({"a": {**SEND, "colour": "red"}}), "colour"),
    ("holdout over half", {**journey({"a": SEND}), "holdout": 60}, "holdout"),
    ("negative holdout", {**journey({"a": SEND}), "holdout": -1}, "holdout"),
    ("plan rate over 1", journey({"a": {"type": "split", "paths": [{"weight": 1}, {"weight": 1}],
     "plan": {"baseline_rate": 1.5, "minimum_lift": 0.1}}}), "split.plan.baseline_rate"),
    ("plan without lift", journey({"a": {"type": "split", "paths": [{"weight": 1}, {"weight": 1}],
     "plan": {"baseline_rate": 0.05}}}), "split.plan.minimum_lift"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "data", "words"), BAD, ids=[b[0] for b in BAD])
def test_bad_journeys_are_refused_saying_why(name: str, data: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        Journey.model_validate(data)


def test_a_good_journey_round_trips_through_json() -> None:
    data = journey(
        {
            "a": {"type": "wait", "until_local_time": "09:00", "next": "b"},
            "b": {
                "type": "wait_for_event",
                "event": {"event": "Email Opened"},
                "timeout_minutes": 60,
                "on_timeout": "c",
            },
            "c": {"type": "send", "template": "t", "fallback": "d"},
            "d": {"type": "send", "channel": "sms", "template": "s"},
        },
        goal={"event": {"event": "Order Completed"}, "within_days": 7},
        reentry={"kind": "after_days", "days": 30},
    )
    parsed = Journey.model_validate(data)
    assert Journey.model_validate_json(parsed.model_dump_json()) == parsed
    assert graph_problems(parsed) == []


def test_a_segment_trigger_may_name_its_segment_instead_of_its_id() -> None:
    named = Journey.model_validate(
        {**journey({"a": SEND}), "trigger": {"type": "segment", "segment": "Lapsing customers"}}
    )
    assert isinstance(named.trigger, SegmentTrigger)
    assert named.trigger.segment == "Lapsing customers"
    assert named.trigger.segment_id is None
    assert Journey.model_validate_json(named.model_dump_json()) == named


SEGMENT_TRIGGERS_REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("both", {"segment_id": 1, "segment": "Lapsing customers"}, "exactly one of the two"),
    ("neither", {"on": "entered"}, "exactly one of the two"),
    ("empty name", {"segment": ""}, "at least 1 character"),
    ("zero id", {"segment_id": 0}, "greater than or equal to 1"),
]


@pytest.mark.parametrize(
    ("name", "trigger", "words"),
    SEGMENT_TRIGGERS_REFUSED,
    ids=[t[0] for t in SEGMENT_TRIGGERS_REFUSED],
)
def test_a_segment_trigger_names_one_segment_one_way(
    name: str, trigger: dict[str, Any], words: str
) -> None:
    data = {**journey({"a": SEND}), "trigger": {"type": "segment", **trigger}}
    with pytest.raises(ValidationError, match=words):
        Journey.model_validate(data)
