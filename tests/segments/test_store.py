from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.ops.database import transaction
from lifetide.ops.models import User
from lifetide.segments.rules import Definition
from lifetide.segments.store import SegmentError, SegmentNotFound, SegmentStore
from tests.segments.saved_shop import NOW, country, in_segment


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def store(app: Lifetide, clock: ManualClock) -> SegmentStore:
    return SegmentStore(app.sessions, clock)


@pytest.fixture
def owner(app: Lifetide) -> int:
    with transaction(app.sessions) as session:
        user = User(email="mia@shop.test", role="marketer", password_hash="-", created_at=NOW)
        session.add(user)
        session.flush()
        return user.id


def _d(data: dict[str, Any]) -> Definition:
    return Definition.model_validate(data)


def _rules(store: SegmentStore, name: str, data: dict[str, Any], owner: int | None = None) -> int:
    return store.create(name=name, kind="rules", definition=_d(data), owner_id=owner).id


def test_create_saves_version_one_with_owner(store: SegmentStore, owner: int) -> None:
    segment = store.create(
        name="  US   shoppers ",
        kind="rules",
        definition=_d(country("US")),
        owner_id=owner,
        description="Everyone in the US",
        refresh_minutes=60,
    )
    assert segment.name == "US shoppers"
    assert segment.version == 1
    assert segment.owner_id == owner
    assert segment.definition == _d(country("US")).model_dump(mode="json")
    versions = store.versions(segment.id)
    assert [(v.version, v.name, v.author_id) for v in versions] == [(1, "US shoppers", owner)]


def test_name_and_definition_changes_make_versions_other_changes_do_not(
    store: SegmentStore, owner: int, clock: ManualClock
) -> None:
    sid = _rules(store, "US", country("US"), owner)
    clock.advance(dt.timedelta(minutes=1))
    segment, changed = store.update(sid, author_id=owner, definition=_d(country("GB")))
    assert (segment.version, changed) == (2, True)
    segment, changed = store.update(sid, author_id=owner, name="UK")
    assert (segment.version, changed) == (3, False)
    segment, changed = store.update(sid, author_id=owner, description="d", refresh_minutes=None)
    assert (segment.version, changed) == (3, False)
    assert segment.description == "d" and segment.refresh_minutes is None
    # The same definition again, spelled differently, is no change.
    gb = {"field": "country", "value": "GB", "op": "eq", "type": "trait", "id": None}
    same = {"root": {"type": "group", "children": [gb]}}
    segment, changed = store.update(sid, author_id=owner, definition=_d(same))
    assert (segment.version, changed) == (3, False)
    assert [(v.version, v.name) for v in store.versions(sid)] == [(3, "UK"), (2, "US"), (1, "US")]
    assert store.versions(sid)[1].definition == _d(country("GB")).model_dump(mode="json")


def test_names_are_unique_ignoring_case_and_archiving(store: SegmentStore) -> None:
    sid = _rules(store, "VIPs", country("US"))
    with pytest.raises(SegmentError, match="a segment called 'VIPs' exists already"):
        _rules(store, "vips", country("GB"))
    other = _rules(store, "Others", country("GB"))
    with pytest.raises(SegmentError, match="exists already"):
        store.update(other, author_id=None, name="VIPS")
    store.archive(sid)
    with pytest.raises(SegmentError, match=r"'VIPs' exists already \(archived\)"):
        _rules(store, "VIPs", country("US"))


def test_empty_or_long_names_and_bad_intervals_are_refused(store: SegmentStore) -> None:
    with pytest.raises(SegmentError, match="needs a name"):
        _rules(store, "   ", country("US"))
    with pytest.raises(SegmentError, match="at most 200"):
        _rules(store, "x" * 201, country("US"))
    with pytest.raises(SegmentError, match="refresh_minutes"):
        store.create(name="a", kind="rules", definition=None, owner_id=None, refresh_minutes=1)
    with pytest.raises(SegmentError, match="unknown segment kind"):
        store.create(name="a", kind="magic", definition=None, owner_id=None)


def test_a_loop_of_segments_is_refused_naming_it(store: SegmentStore) -> None:
    a = _rules(store, "A", country("US"))
    b = _rules(store, "B", in_segment(a))
    c = _rules(store, "C", in_segment(b, "not_in"))
    with pytest.raises(SegmentError, match="in a loop: 'A' uses 'C' uses 'B' uses 'A'"):
        store.update(a, author_id=None, definition=_d(in_segment(c)))
    with pytest.raises(SegmentError, match="in a loop: 'B' uses 'B'"):
        store.update(b, author_id=None, definition=_d(in_segment(b)))
    # Refused changes leave the segment as it was.
    assert store.get(a).version == 1
    assert store.get(a).definition == _d(country("US")).model_dump(mode="json")


def test_using_a_missing_or_archived_segment_is_refused(store: SegmentStore) -> None:
    with pytest.raises(SegmentError, match="uses segment 99, which does not exist"):
        _rules(store, "X", in_segment(99))
    old = _rules(store, "Old", country("US"))
    store.archive(old)
    with pytest.raises(SegmentError, match=r"uses segment 'Old' \(1\), which is archived"):
        _rules(store, "X", in_segment(old))


def test_archive_hides_and_is_refused_while_used(store: SegmentStore) -> None:
    base = _rules(store, "Base", country("US"))
    user = _rules(store, "User", in_segment(base))
    with pytest.raises(SegmentError, match="'Base' is used by 'User'; change those first"):
        store.archive(base)
    store.archive(user)
    store.archive(base)
    assert store.active() == []
    assert store.names() == {}
    assert store.names(archived=True) == {base: "Base", user: "User"}
    with pytest.raises(SegmentNotFound):
        store.get(base)
    assert store.get(base, archived=True).archived_at is not None
    with pytest.raises(SegmentNotFound):
        store.update(base, author_id=None, name="again")
    with pytest.raises(SegmentNotFound):
        store.archive(base)


def test_static_lists_have_no_rules_or_schedule(store: SegmentStore) -> None:
    sid = store.create(name="List", kind="static", definition=None, owner_id=None).id
    with pytest.raises(SegmentError, match="static list: it has no rules"):
        store.update(sid, author_id=None, definition=_d(country("US")))
    with pytest.raises(SegmentError, match="not refreshed on a schedule"):
        store.update(sid, author_id=None, refresh_minutes=60)


def test_due_counts_from_the_last_attempt(store: SegmentStore, clock: ManualClock) -> None:
    hourly = store.create(
        name="Hourly",
        kind="rules",
        definition=_d(country("US")),
        owner_id=None,
        refresh_minutes=60,
    ).id
    store.create(name="Manual", kind="rules", definition=_d(country("US")), owner_id=None)
    store.create(name="List", kind="static", definition=None, owner_id=None)
    assert [d.id for d in store.due(clock.now())] == [hourly]

    refresh = store.start_refresh(hourly, 1, "schedule", None)
    store.fail_refresh(refresh.id, "boom")
    assert store.due(clock.now()) == []
    clock.advance(dt.timedelta(minutes=59))
    assert store.due(clock.now()) == []
    clock.advance(dt.timedelta(minutes=1))
    assert [d.name for d in store.due(clock.now())] == ["Hourly"]


def test_refresh_records_finish_and_failure(store: SegmentStore, clock: ManualClock) -> None:
    sid = _rules(store, "US", country("US"))
    first = store.start_refresh(sid, 1, "manual", None)
    clock.advance(dt.timedelta(seconds=5))
    store.finish_refresh(first.id, size=3, entered=3, exited=0)
    second = store.start_refresh(sid, 1, "schedule", None)
    store.fail_refresh(second.id, "it broke")
    rows = store.refreshes(sid)
    assert [(r.trigger, r.size, r.entered, r.exited, r.error) for r in rows] == [
        ("schedule", None, None, None, "it broke"),
        ("manual", 3, 3, 0, None),
    ]
    segment = store.get(sid)
    assert segment.size == 3
    assert segment.last_refreshed_at is not None
    with pytest.raises(SegmentError, match="unknown refresh trigger"):
        store.start_refresh(sid, 1, "whenever", None)
