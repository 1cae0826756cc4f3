"""`lifetide journey ...`, as a user runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lifetide.accounts.service import accounts_for
from lifetide.cli.app import app
from lifetide.context import Lifetide
from lifetide.journeys.bundles import install_bundled_templates
from lifetide.journeys.definition import SegmentTrigger
from lifetide.journeys.files import bundled_journeys
from lifetide.journeys.store import JourneyStore
from lifetide.ops.models import JourneyRecord, Segment
from lifetide.scoring.pipeline import ScoreOptions, Scorer
from lifetide.segments.service import SegmentService
from lifetide.settings import load_settings
from tests.conftest import SHOP_END

runner = CliRunner()

BUYERS = {"root": {"type": "purchase", "measure": "count", "op": "gte", "value": 1}}
JOURNEY = """\
name: Thank buyers
trigger: {type: segment, segment: "  buyers "}
start: pause
steps:
  pause: {type: wait, minutes: 90, next: high}
  high:
    type: branch
    condition: {type: trait, field: country, op: eq, value: US}
    "yes": thanks
    "no": exit
  thanks: {type: send, template: welcome, offer: {kind: amount_off, value: 5}}
reentry: {kind: after_days, days: 30}
"""


@pytest.fixture(scope="module")
def scored_shop(synth_shop_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The resolved retailer, scored; copied by each test that writes to it."""
    data = tmp_path_factory.mktemp("journey-cli") / "data"
    shutil.copytree(synth_shop_dir, data)
    with Lifetide(load_settings(data_dir=data, env="test")) as lifetide:
        Scorer(lifetide, ScoreOptions(as_of=SHOP_END, evaluate=False)).run()
    return data


@pytest.fixture
def scored(scored_shop: Path, tmp_path: Path) -> Path:
    data = tmp_path / "scored"
    shutil.copytree(scored_shop, data)
    return data


@pytest.fixture
def unscored(synth_shop_dir: Path, tmp_path: Path) -> Path:
    data = tmp_path / "unscored"
    shutil.copytree(synth_shop_dir, data)
    return data


@pytest.fixture
def with_buyers(unscored: Path) -> Path:
    """The unscored shop with a saved segment called "Buyers"."""
    with _lifetide(unscored) as lifetide:
        SegmentService(lifetide).create("Buyers", BUYERS, None, refresh_minutes=None)
    return unscored


def _lifetide(data: Path) -> Lifetide:
    return Lifetide(load_settings(data_dir=data, env="test"))


def _run(data: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--data-dir", str(data), "journey", *args])
    return result.exit_code, result.output


def _file(tmp_path: Path, text: str, name: str = "journey.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _ids(data: Path) -> dict[str, int]:
    with _lifetide(data) as lifetide:
        return {r.name: r.id for r in JourneyStore(lifetide.sessions, lifetide.clock).list()}


# -- install-bundled, list, show ------------------------------------------------------------


def test_install_bundled_installs_everything_once(scored: Path) -> None:
    code, out = _run(scored, "install-bundled")
    assert code == 0, out
    assert "templates: " in out and "winback-offer" in out
    for name in ("Lapsing customers", "New customers", "Predicted top 20%"):
        assert f"{name}': installed (" in out
    names = [j.name for j in bundled_journeys().values()]
    for name in names:
        assert f"'{name}': installed as a draft" in out
    code, again = _run(scored, "install-bundled")
    assert code == 0, again
    assert "templates: 0 installed" in again
    assert "installed (" not in again and "installed as" not in again
    assert again.count("there already") == len(names) + 3
    assert "'Win-back': there already (draft)" in again
    assert set(_ids(scored)) == set(names)


def test_install_bundled_before_scoring_says_what_waits(unscored: Path) -> None:
    code, out = _run(unscored, "install-bundled")
    assert code == 1
    assert "journey 'Win-back': not installed: needs the segment 'Lapsing customers'" in out
    assert "run `lifetide score`" in out
    assert "'Cart abandonment': installed as a draft" in out
    assert "Win-back" not in _ids(unscored)


def test_install_bundled_with_an_owner(with_buyers: Path) -> None:
    code, out = _run(with_buyers, "install-bundled", "--owner", "nobody@example.com")
    assert code == 2 and "--owner: there is no user 'nobody@example.com'" in out
    with _lifetide(with_buyers) as lifetide:
        user = accounts_for(lifetide).create_user("o@example.com", "owner-password-1", "admin")
    _run(with_buyers, "install-bundled", "--owner", "O@example.com")
    with _lifetide(with_buyers) as lifetide, lifetide.sessions() as session:
        owners = {r.owner_id for r in session.query(JourneyRecord)}
        new_customers = session.query(Segment).filter_by(name="New customers").one()
    assert owners == {user.id} and new_customers.owner_id == user.id


def test_list_and_show_read_the_journeys(scored: Path) -> None:
    code, out = _run(scored, "list")
    assert code == 0 and "no journeys yet" in out
    _run(scored, "install-bundled")
    code, out = _run(scored, "list")
    assert code == 0, out
    assert "Win-back" in out and "when a customer enters segment" in out and "draft" in out
    winback = _ids(scored)["Win-back"]
    code, out = _run(scored, "list", "--status", "live")
    assert code == 0 and "Win-back" not in out
    code, out = _run(scored, "list", "--status", "sleeping")
    assert code == 2

    code, out = _run(scored, "show", str(winback))
    assert code == 0, out
    assert f"Journey {winback}: Win-back (draft, version 1)" in out
    assert "Starts when a customer enters segment" in out and "Lapsing customers" in out
    lines = out.splitlines()
    order = [
        next(i for i, line in enumerate(lines) if f" {step} " in line)
        for step in ("next_morning", "first_offer", "wait_click", "valuable")
    ]
    assert order == sorted(order)
    assert "winback-offer” with 15% off (valid 14 days); then wait_click" in out
    assert "wait up to 5 days for “Email Link Clicked”" in out
    assert "predicted CLV (12 months) is at least 150: strongest_offer" in out
    assert "set winback_offered = true on the profile" in out
    assert "Goal: “Order Completed” within 30 days" in out
    assert "Re-entry: after 120 days." in out

    code, out = _run(scored, "show", str(winback), "--json")
    assert code == 0, out
    shown = json.loads(out)
    assert shown["steps"] == bundled_journeys()["winback"].model_dump(mode="json")["steps"]
    assert isinstance(shown["trigger"]["segment_id"], int)


def test_show_counts_customers_at_each_step(with_buyers: Path, tmp_path: Path) -> None:
    _run(with_buyers, "create", _file(tmp_path, JOURNEY))
    journey_id = _ids(with_buyers)["Thank buyers"]
    with _lifetide(with_buyers) as lifetide:
        store = JourneyStore(lifetide.sessions, lifetide.clock)
        for profile_id in (11, 12, 13):
            store.open_instance(journey_id, 1, profile_id, None, step="pause")
        # A customer still at a step that a later version dropped.
        store.open_instance(journey_id, 1, 14, None, step="old_step")
    code, out = _run(with_buyers, "show", str(journey_id))
    assert code == 0, out
    row = next(line for line in out.splitlines() if " pause " in line)
    assert row.split("│")[3].strip() == "3"
    old = next(line for line in out.splitlines() if " old_step " in line)
    assert "(a step of an older version)" in old and old.split("│")[3].strip() == "1"
    assert "In it now: 4." in out


def test_show_refuses_an_unknown_journey_or_version(with_buyers: Path, tmp_path: Path) -> None:
    code, out = _run(with_buyers, "show", "99")
    assert code == 1 and "no journey 99" in out
    _run(with_buyers, "create", _file(tmp_path, JOURNEY))
    journey_id = _ids(with_buyers)["Thank buyers"]
    code, out = _run(with_buyers, "show", str(journey_id), "--version", "2")
    assert code == 1 and f"journey {journey_id} has no version 2" in out
    code, out = _run(with_buyers, "show", "abc")
    assert code == 2


# -- validate, create, update ---------------------------------------------------------------


def test_validate_create_and_update(with_buyers: Path, tmp_path: Path) -> None:
    path = _file(tmp_path, JOURNEY)
    code, out = _run(with_buyers, "validate", path)
    assert code == 0, out
    assert "journey.yaml: journey 'Thank buyers' is valid: 3 steps" in out
    assert "enters segment 1 “Buyers”" in out
    assert "note: it sends templates that do not exist yet: welcome" in out
    assert _ids(with_buyers) == {}
    with _lifetide(with_buyers) as lifetide:
        install_bundled_templates(lifetide)
    code, out = _run(with_buyers, "validate", path)
    assert code == 0 and "note:" not in out

    code, out = _run(with_buyers, "create", path)
    assert code == 0, out
    journey_id = _ids(with_buyers)["Thank buyers"]
    assert f"journey {journey_id} 'Thank buyers' saved as a draft (version 1)" in out
    with _lifetide(with_buyers) as lifetide:
        stored = JourneyStore(lifetide.sessions, lifetide.clock).definition_of(journey_id, 1)
    assert stored.trigger == SegmentTrigger(segment_id=1)
    code, out = _run(with_buyers, "create", path)
    assert code == 1 and "journey.yaml: a journey named 'Thank buyers' already exists" in out

    changed = _file(tmp_path, JOURNEY.replace("minutes: 90", "minutes: 120"), "v2.yml")
    code, out = _run(with_buyers, "update", str(journey_id), changed)
    assert code == 0, out
    assert "version 2 saved; customers already in it stay on version 1" in out
    code, out = _run(with_buyers, "update", str(journey_id), changed)
    assert code == 0 and "is unchanged (version 2)" in out
    renamed = _file(tmp_path, JOURNEY.replace("Thank buyers", "Thank everyone"), "r.yaml")
    code, out = _run(with_buyers, "update", str(journey_id), renamed)
    assert code == 1 and "r.yaml: name: " in out and "does not rename" in out
    code, out = _run(with_buyers, "update", "99", changed)
    assert code == 1 and "no journey 99" in out


def test_a_json_file_works_like_yaml(with_buyers: Path, tmp_path: Path) -> None:
    data = {
        "name": "From JSON",
        "trigger": {"type": "event", "event": {"event": "Order Completed"}},
        "start": "a",
        "steps": {"a": {"type": "send", "template": "welcome"}},
    }
    code, out = _run(with_buyers, "create", _file(tmp_path, json.dumps(data), "j.json"))
    assert code == 0, out
    assert "'From JSON' saved as a draft" in out


BAD_FILES = [
    ("syntax.yaml", "name: [unclosed\n", "syntax.yaml: not valid YAML at line"),
    ("syntax.json", '{"name": }', "syntax.json: not valid JSON at line 1"),
    ("graph.yaml", JOURNEY.replace('"yes": thanks', '"yes": nowhere'),
     "graph.yaml: (top level): step 'high' leads to 'nowhere', which is not a step"),
    ("offer.yaml", JOURNEY.replace("amount_off", "half_off"),
     "offer.yaml: steps.thanks.send.offer.kind"),
    ("segment.yaml", JOURNEY.replace('"  buyers "', "Lapsers"),
     "segment.yaml: trigger.segment: there is no saved segment named 'Lapsers'"),
    ("by_id.yaml", JOURNEY.replace('segment: "  buyers "', "segment_id: 42"),
     "by_id.yaml: trigger.segment_id: there is no saved segment 42"),
    ("both.yaml", JOURNEY.replace('segment: "  buyers "', 'segment: buyers, segment_id: 1'),
     "exactly one of the two"),
    ("field.yaml", JOURNEY.replace("field: country", "field: shoe_size"),
     "field.yaml: steps.high.condition.field: unknown profile field 'shoe_size'"),
    ("predicted.yaml", JOURNEY.replace("type: trait, field: country, op: eq, value: US",
                                       "type: prediction, field: p_alive, op: lt, value: 0.5"),
     "predicted.yaml: steps.high.condition.field: there are no predictions yet"),
    ("journey.txt", JOURNEY, "journey.txt: a journey file ends in .json, .yaml or .yml"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "text", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_file_is_refused_naming_file_and_place(
    with_buyers: Path, tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = _file(tmp_path, text, name)
    for command in ("validate", "create"):
        code, out = _run(with_buyers, command, path)
        assert code == 1, out
        assert message in " ".join(out.split()), out
    assert _ids(with_buyers) == {}


def test_a_missing_file_is_a_usage_error(with_buyers: Path, tmp_path: Path) -> None:
    code, out = _run(with_buyers, "create", str(tmp_path / "nope.yaml"))
    assert code == 2 and "nope.yaml" in out


# -- start, pause, stop ---------------------------------------------------------------------


def test_start_pause_stop(with_buyers: Path, tmp_path: Path) -> None:
    _run(with_buyers, "create", _file(tmp_path, JOURNEY))
    jid = str(_ids(with_buyers)["Thank buyers"])
    code, out = _run(with_buyers, "pause", jid)
    assert code == 1 and "is draft: it cannot pause (only a journey that is live can)" in out
    code, out = _run(with_buyers, "start", jid)
    assert code == 1 and "cannot start: it sends templates that do not exist: welcome" in out
    with _lifetide(with_buyers) as lifetide:
        assert "welcome" in install_bundled_templates(lifetide)
    steps = [
        ("start", 0, "is live"),
        ("start", 0, "is already live"),
        ("pause", 0, "is paused"),
        ("pause", 0, "is already paused"),
        ("start", 0, "is live"),
        ("stop", 0, "is stopped"),
        ("pause", 1, "is stopped: it cannot pause"),
        ("start", 0, "is live"),
    ]
    for command, expected, words in steps:
        code, out = _run(with_buyers, command, jid)
        assert code == expected and words in out, (command, out)
    with _lifetide(with_buyers) as lifetide:
        assert JourneyStore(lifetide.sessions, lifetide.clock).get(int(jid)).status == "live"
    for command in ("start", "pause", "stop"):
        code, out = _run(with_buyers, command, "99")
        assert code == 1 and "no journey 99" in out


def test_a_journey_whose_segment_is_gone_cannot_start(with_buyers: Path, tmp_path: Path) -> None:
    _run(with_buyers, "create", _file(tmp_path, JOURNEY))
    jid = str(_ids(with_buyers)["Thank buyers"])
    with _lifetide(with_buyers) as lifetide:
        SegmentService(lifetide).archive(1, None)
    code, out = _run(with_buyers, "start", jid)
    assert code == 1
    assert "cannot start: trigger.segment_id: there is no saved segment 1" in out
    code, out = _run(with_buyers, "stop", jid)
    assert code == 0 and "is stopped" in out


# -- the demo -------------------------------------------------------------------------------


def test_the_demo_installs_the_bundled_journeys_and_runs_three(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    result = runner.invoke(
        app, ["--data-dir", str(data), "demo", "--customers", "100", "--no-serve"]
    )
    assert result.exit_code == 0, result.output
    assert "live: Browse abandonment, Cart abandonment, Welcome series" in result.output
    with _lifetide(data) as lifetide:
        records = JourneyStore(lifetide.sessions, lifetide.clock).list()
        demo_user = accounts_for(lifetide).user_by_email("demo@lifetide.dev")
        segments = SegmentService(lifetide).list()
    assert demo_user is not None
    assert {r.name for r in records} == {j.name for j in bundled_journeys().values()}
    live = {r.name for r in records if r.status == "live"}
    assert live == {"Browse abandonment", "Cart abandonment", "Welcome series"}
    assert {r.owner_id for r in records} == {demo_user.id}
    assert {s.name for s in segments} == {"Lapsing customers", "New customers", "Predicted top 20%"}
