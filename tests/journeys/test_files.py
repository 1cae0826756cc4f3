"""Journey files: JSON and YAML read alike; errors name the file and the place."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from lifetide.journeys.definition import Send, Wait
from lifetide.journeys.files import JourneyFileError, bundled_journeys, load_journey, parse_journey

YAML = """
name: Cart abandonment
trigger:
  type: event
  event: {event: Product Added}
  key: cart_id
  ends_on: {event: Order Completed}
start: morning
steps:
  morning: {type: wait, until_local_time: 9:00, next: nudge}
  nudge: {type: send, template: cart, offer: {kind: percent_off, value: 10}}
goal: {event: {event: Order Completed}, within_days: 7}
"""


def test_yaml_and_json_give_the_same_journey(tmp_path: Path) -> None:
    as_yaml = tmp_path / "cart.yaml"
    as_yaml.write_text(YAML)
    journey = load_journey(as_yaml)
    as_json = tmp_path / "cart.json"
    as_json.write_text(journey.model_dump_json())
    assert load_journey(as_json) == journey


def test_a_time_of_day_is_not_read_as_a_base_60_number(tmp_path: Path) -> None:
    path = tmp_path / "cart.yml"
    path.write_text(YAML)
    morning = load_journey(path).steps["morning"]
    assert isinstance(morning, Wait) and morning.until_local_time == dt.time(9, 0)


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("j.yaml", "name: [unclosed", "not valid YAML at line 1"),
        ("j.json", '{"name": }', "not valid JSON at line 1, column 10"),
        ("j.yaml", "- a list", "a journey is a mapping"),
        ("j.yaml", YAML.replace("next: nudge", "next: nowhere"), "leads to 'nowhere'"),
        ("j.yaml", YAML.replace("value: 10", "value: lots"), "steps.nudge.send.offer.value"),
        ("j.txt", YAML, "ends in .json, .yaml or .yml"),
    ],
)
def test_errors_say_which_file_and_where(tmp_path: Path, name: str, text: str, words: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(JourneyFileError, match=r"j\.(yaml|json|txt)") as caught:
        load_journey(path)
    assert words in str(caught.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(JourneyFileError, match="cannot be read"):
        load_journey(tmp_path / "none.yaml")


def test_the_bundled_journeys_read_and_hold_together() -> None:
    journeys = bundled_journeys()
    assert set(journeys) >= {
        "cart_abandonment",
        "browse_abandonment",
        "replenishment",
        "birthday",
    }
    cart = journeys["cart_abandonment"]
    offers = [s.offer for s in cart.steps.values() if isinstance(s, Send) and s.offer]
    # Each follow-up is a stronger incentive than the last.
    assert [o.kind for o in offers] == ["percent_off", "percent_off", "free_shipping"]
    assert offers[0].value < offers[1].value


def test_yes_no_and_on_are_words_not_booleans() -> None:
    journey = parse_journey(
        "name: Branchy\n"
        "trigger: {type: segment, segment_id: 3, on: exited}\n"
        "start: check\n"
        "steps:\n"
        "  check:\n"
        "    type: branch\n"
        "    condition: {type: trait, field: country, op: eq, value: NL}\n"
        "    yes: tag\n"
        "    no: exit\n"
        "  tag: {type: update_profile, traits: {dutch: true, vip: False}}\n"
    )
    branch = journey.steps["check"]
    assert (getattr(branch, "yes", None), getattr(branch, "no", None)) == ("tag", "exit")
    assert getattr(journey.trigger, "on", None) == "exited"
    assert getattr(journey.steps["tag"], "traits", None) == {"dutch": True, "vip": False}
