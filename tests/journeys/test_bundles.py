"""Installing the bundled segments and journeys on the scored synthetic retailer."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from lifetide.accounts.service import accounts_for
from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.journeys.bundles import (
    UnknownSegment,
    bundled_segments,
    install_bundled,
    install_bundled_segments,
    install_bundled_templates,
    resolve_segments,
)
from lifetide.journeys.definition import (
    Branch,
    Journey,
    SegmentTrigger,
    Send,
    graph_problems,
)
from lifetide.journeys.files import bundled_journeys, parse_journey
from lifetide.journeys.store import JourneyStore
from lifetide.messaging.template_store import TemplateStore, bundled_templates
from lifetide.ops.database import upgrade
from lifetide.ops.models import JourneyRecord, JourneyVersion, Segment
from lifetide.scoring.pipeline import ScoreOptions, Scorer
from lifetide.segments.rules import Definition
from lifetide.segments.service import SegmentService
from lifetide.segments.validate import check
from lifetide.settings import load_settings
from tests.conftest import SHOP_END

NOW = dt.datetime.combine(SHOP_END + dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC)
SEGMENT_JOURNEYS = {"winback", "welcome", "vip_recognition"}


@pytest.fixture(scope="module")
def scored_dir(synth_shop_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The resolved retailer, scored as of its last day; copy it before writing to it."""
    data = tmp_path_factory.mktemp("scored-shop") / "data"
    shutil.copytree(synth_shop_dir, data)
    with Lifetide(load_settings(data_dir=data, env="test"), ManualClock(NOW)) as app:
        Scorer(app, ScoreOptions(as_of=SHOP_END, evaluate=False)).run()
    return data


def _open(data: Path, ops: Engine | None) -> Lifetide:
    app = Lifetide(load_settings(data_dir=data, env="test"), ManualClock(NOW))
    if ops is not None:
        upgrade(ops)
        # The warehouse stays the shop's; the operational database is PostgreSQL's.
        app.ops_engine = ops  # type: ignore[misc]
    return app


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def scored(request: pytest.FixtureRequest, scored_dir: Path, tmp_path: Path) -> Iterator[Lifetide]:
    """A private copy of the scored retailer, its ops database SQLite or PostgreSQL."""
    data = tmp_path / "shop"
    shutil.copytree(scored_dir, data)
    ops = request.getfixturevalue("postgres_engine") if request.param == "postgres" else None
    with _open(data, ops) as app:
        yield app


@pytest.fixture
def unscored(synth_shop_dir: Path, tmp_path: Path) -> Iterator[Lifetide]:
    """A private copy of the resolved retailer before any scoring."""
    data = tmp_path / "shop"
    shutil.copytree(synth_shop_dir, data)
    with _open(data, None) as app:
        yield app


# -- the files ------------------------------------------------------------------------------


def test_every_bundled_journey_is_a_sound_graph() -> None:
    journeys = bundled_journeys()
    assert set(journeys) >= SEGMENT_JOURNEYS
    segment_names = {s.name for s in bundled_segments()}
    for stem, journey in journeys.items():
        assert graph_problems(journey) == [], stem
        if stem in SEGMENT_JOURNEYS:
            assert isinstance(journey.trigger, SegmentTrigger), stem
            assert journey.trigger.segment in segment_names, stem
            assert journey.trigger.segment_id is None, stem


def test_the_new_journeys_use_their_templates_and_the_steps_they_promise() -> None:
    journeys = bundled_journeys()
    templates = {
        stem: {s.template for s in j.steps.values() if isinstance(s, Send)}
        for stem, j in journeys.items()
    }
    assert templates["winback"] == {"winback-offer"}
    assert templates["welcome"] == {"welcome"}
    assert templates["vip_recognition"] == {"vip-early-access"}
    kinds = {stem: {s.type for s in j.steps.values()} for stem, j in journeys.items()}
    assert {"wait_for_event", "branch", "update_profile"} <= kinds["winback"]
    assert "split" in kinds["welcome"]
    assert "update_profile" in kinds["vip_recognition"]
    winback = journeys["winback"].steps
    offers = [s.offer.value for s in winback.values() if isinstance(s, Send) and s.offer]
    # The follow-up offers are stronger than the first.
    assert offers[0] < min(offers[1:])


def test_bundled_segments_and_branches_fit_the_scored_catalog(scored: Lifetide) -> None:
    catalog = SegmentService(scored).catalog()
    for bundled in bundled_segments():
        assert check(bundled.definition, catalog, {}) == [], bundled.name
    for stem, journey in bundled_journeys().items():
        for step_id, step in journey.steps.items():
            if isinstance(step, Branch):
                problems = check(Definition(root=step.condition), catalog, {})
                assert problems == [], f"{stem}.{step_id}: {problems}"


def test_every_template_a_bundled_journey_sends_is_bundled() -> None:
    templates = bundled_templates()
    for stem, journey in bundled_journeys().items():
        for step_id, step in journey.steps.items():
            if isinstance(step, Send):
                assert step.template in templates, f"{stem}.{step_id}: {step.template}"
                assert templates[step.template].channel == step.channel, f"{stem}.{step_id}"


# -- installing -----------------------------------------------------------------------------


def test_install_saves_the_templates_the_journeys_send(scored: Lifetide) -> None:
    templates = TemplateStore(scored.sessions, scored.clock)
    edited = templates.save("welcome", "email", "Hi {{ customer.first_name }}", "<p>Hi</p>", None)
    install_bundled(scored)
    sent = {
        s.template
        for journey in bundled_journeys().values()
        for s in journey.steps.values()
        if isinstance(s, Send)
    }
    stored = {t.name: t for t in templates.list()}
    assert sent <= set(stored)
    # A template that existed is kept as it was.
    assert stored["welcome"].subject == edited.subject and stored["welcome"].version == 1
    assert install_bundled_templates(scored) == []


def _members(app: Lifetide, segment_id: int) -> set[int]:
    ids = SegmentService(app).member_ids(segment_id).to_pyarrow().column("profile_id")
    return {int(x) for x in ids.to_pylist()}


def _sql(app: Lifetide, query: str) -> set[int]:
    return {int(row[0]) for row in app.warehouse.duckdb.execute(query).fetchall()}


def test_install_saves_segments_with_members_and_journeys_as_drafts(scored: Lifetide) -> None:
    installed = install_bundled(scored)
    assert {j.file for j in installed} == set(bundled_journeys())
    assert all(j.created and j.status == "draft" and j.problem is None for j in installed)
    segments = {s.name: s for s in SegmentService(scored).list()}
    assert set(segments) == {s.name for s in bundled_segments()}

    # Each segment's members are what the same rule says in hand-written SQL.
    lapsing = _members(scored, segments["Lapsing customers"].id)
    assert lapsing and lapsing == _sql(
        scored,
        "SELECT profile_id FROM predictions WHERE orders >= 1 AND p_alive < 0.5 "
        "AND lifecycle_stage IN ('at_risk', 'lapsed')",
    )
    top = _members(scored, segments["Predicted top 20%"].id)
    assert top and top == _sql(scored, "SELECT profile_id FROM predictions WHERE future_top20")
    new = _members(scored, segments["New customers"].id)
    week_ago = (NOW - dt.timedelta(days=7)).replace(tzinfo=None)
    recent = _sql(
        scored,
        f"SELECT profile_id FROM profiles WHERE created_at >= '{week_ago}' UNION "
        f"SELECT profile_id FROM predictions WHERE first_order_at >= '{week_ago}'",
    )
    total = SegmentService(scored).total_profiles()
    assert new and new == recent and len(new) < total / 5

    # Stored journeys carry the segment's id, not its name.
    store = JourneyStore(scored.sessions, scored.clock)
    by_file = {j.file: j for j in installed}
    expected = {
        "winback": "Lapsing customers",
        "welcome": "New customers",
        "vip_recognition": "Predicted top 20%",
    }
    for stem, segment_name in expected.items():
        journey_id = by_file[stem].journey_id
        assert journey_id is not None
        stored = store.definition_of(journey_id, 1)
        assert isinstance(stored.trigger, SegmentTrigger)
        assert stored.trigger.segment_id == segments[segment_name].id
        assert stored.trigger.segment is None
        assert stored.steps == bundled_journeys()[stem].steps


def test_installing_twice_changes_nothing(scored: Lifetide) -> None:
    first = install_bundled(scored)
    again = install_bundled(scored)
    assert [(j.name, j.journey_id) for j in again] == [(j.name, j.journey_id) for j in first]
    assert not any(j.created for j in again)
    assert all(j.problem is None for j in again)
    segments_again = install_bundled_segments(scored)
    assert not any(s.created for s in segments_again)
    with scored.sessions() as session:
        assert session.scalar(select(func.count()).select_from(JourneyRecord)) == len(first)
        assert session.scalar(select(func.count()).select_from(JourneyVersion)) == len(first)
        assert session.scalar(select(func.count()).select_from(Segment)) == len(segments_again)


def test_the_owner_owns_what_is_installed(scored: Lifetide) -> None:
    user = accounts_for(scored).create_user("owner@example.com", "owner-password-1", "admin")
    installed = install_bundled(scored, owner_id=user.id)
    with scored.sessions() as session:
        owners = set(session.scalars(select(JourneyRecord.owner_id)))
        segment_owners = set(session.scalars(select(Segment.owner_id)))
    assert owners == {user.id} == segment_owners
    assert len(installed) == len(bundled_journeys())


def test_what_exists_by_name_is_left_alone_and_used(scored: Lifetide) -> None:
    service = SegmentService(scored)
    mine = service.create("new   CUSTOMERS", _everyone_who_bought(), None, refresh_minutes=None)
    store = JourneyStore(scored.sessions, scored.clock)
    own = parse_journey(
        f"name: win-back\ntrigger: {{type: segment, segment_id: {mine.id}}}\nstart: a\n"
        "steps: {a: {type: send, template: my-own}}\n"
    )
    own_id = store.create("win-back", own, None).id
    store.set_status(own_id, "live")

    installed = {j.file: j for j in install_bundled(scored)}
    assert installed["winback"].journey_id == own_id and not installed["winback"].created
    assert installed["winback"].status == "live"
    assert store.get(own_id).version == 1
    assert store.definition_of(own_id, 1) == own
    # The welcome journey starts from the segment that already had the name.
    welcome_id = installed["welcome"].journey_id
    assert welcome_id is not None
    trigger = store.definition_of(welcome_id, 1).trigger
    assert isinstance(trigger, SegmentTrigger) and trigger.segment_id == mine.id
    assert service.get(mine.id).version == 1
    assert [s.name for s in service.list()].count("new CUSTOMERS") == 1


def test_an_archived_segment_of_the_name_is_not_brought_back(scored: Lifetide) -> None:
    service = SegmentService(scored)
    old = service.create("Predicted top 20%", _everyone_who_bought(), None)
    service.archive(old.id, None)
    segments = {s.name: s for s in install_bundled_segments(scored)}
    assert segments["Predicted top 20%"].segment_id is None
    assert "archived" in str(segments["Predicted top 20%"].problem)
    vip = {j.file: j for j in install_bundled(scored)}["vip_recognition"]
    assert vip.journey_id is None and "archived" in str(vip.problem)
    assert "Predicted top 20%" in str(vip.problem)


def _everyone_who_bought() -> dict[str, Any]:
    return {"root": {"type": "purchase", "measure": "count", "op": "gte", "value": 1}}


def test_before_scoring_what_needs_predictions_waits_and_comes_later(
    unscored: Lifetide,
) -> None:
    first = {j.file: j for j in install_bundled(unscored)}
    for stem in ("winback", "vip_recognition"):
        assert first[stem].journey_id is None and not first[stem].created
        assert "lifetide score" in str(first[stem].problem)
    assert first["welcome"].created and first["cart_abandonment"].created
    Scorer(unscored, ScoreOptions(as_of=SHOP_END, evaluate=False)).run()
    later = {j.file: j for j in install_bundled(unscored)}
    assert later["winback"].created and later["vip_recognition"].created
    assert not later["welcome"].created
    assert later["welcome"].journey_id == first["welcome"].journey_id


# -- resolving segment names ----------------------------------------------------------------


def _segment_journey(trigger: dict[str, Any], **steps: Any) -> Journey:
    return Journey.model_validate(
        {
            "name": "J",
            "trigger": {"type": "segment", **trigger},
            "start": "a",
            "steps": steps or {"a": {"type": "send", "template": "t"}},
        }
    )


def test_resolve_turns_a_name_into_the_id_ignoring_case_and_spaces() -> None:
    journey = _segment_journey({"segment": " lapsing   Customers", "on": "exited"})
    resolved = resolve_segments(journey, {4: "Lapsing customers", 5: "Other"})
    assert resolved.trigger == SegmentTrigger(segment_id=4, on="exited")
    assert resolved.steps == journey.steps


def test_resolve_names_what_is_missing_and_where() -> None:
    with pytest.raises(UnknownSegment, match=r"trigger\.segment: .* named 'Gone'"):
        resolve_segments(_segment_journey({"segment": "Gone"}), {1: "Here"})
    with pytest.raises(UnknownSegment, match=r"trigger\.segment_id: there is no saved segment 9"):
        resolve_segments(_segment_journey({"segment_id": 9}), {1: "Here"})
    branch = {
        "type": "branch",
        "condition": {"type": "segment", "segment_id": 3},
        "yes": "b",
    }
    journey = _segment_journey({"segment_id": 1}, a=branch, b={"type": "send", "template": "t"})
    with pytest.raises(UnknownSegment, match=r"steps\.a\.condition: there is no saved segment 3"):
        resolve_segments(journey, {1: "Here"})
    assert resolve_segments(journey, {1: "Here", 3: "There"}) == journey
