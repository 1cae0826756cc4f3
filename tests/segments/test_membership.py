from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from lifetide.clock import ManualClock, naive_utc
from lifetide.context import Lifetide
from lifetide.ops.database import transaction
from lifetide.ops.models import Customer, Identity
from lifetide.segments.membership import (
    Membership,
    apply_members,
    resolve_identifiers,
)
from lifetide.segments.rules import Definition
from lifetide.segments.store import SegmentError, SegmentStore
from tests.segments.saved_shop import NOW, changes_of, country, in_segment, members_of


def _store(app: Lifetide) -> SegmentStore:
    return SegmentStore(app.sessions, app.clock)


def _membership(app: Lifetide) -> Membership:
    return Membership(_store(app), app.warehouse.backend, app.clock)


def _saved(app: Lifetide, name: str, data: dict[str, object]) -> int:
    store = _store(app)
    return store.create(
        name=name, kind="rules", definition=Definition.model_validate(data), owner_id=None
    ).id


def _clock(app: Lifetide) -> ManualClock:
    assert isinstance(app.clock, ManualClock)
    return app.clock


def test_apply_members_records_entered_and_exited_in_one_go(warehouse) -> None:  # type: ignore[no-untyped-def]
    from lifetide.segments.tables import ensure_segment_tables

    ensure_segment_tables(warehouse.backend)
    con = warehouse.duckdb
    first = apply_members(con, 7, 1, pa.table({"profile_id": [1, 2, 2, 3]}), NOW)
    assert (first.size, first.entered, first.exited) == (3, 3, 0)
    second = apply_members(con, 7, 2, pa.table({"profile_id": [3, 4, None]}), NOW)
    assert (second.size, second.entered, second.exited) == (2, 1, 2)
    assert members_of(warehouse.backend, 7) == {3, 4}
    assert changes_of(warehouse.backend, 7, 2) == {"entered": {4}, "exited": {1, 2}}
    at = con.execute("SELECT DISTINCT changed_at FROM segment_changes").fetchall()
    assert at == [(naive_utc(NOW),)]
    # Other segments' rows are left alone.
    apply_members(con, 8, 3, pa.table({"profile_id": [9]}), NOW)
    assert members_of(warehouse.backend, 7) == {3, 4}


def test_refresh_twice_with_changed_data(shop_app: Lifetide) -> None:
    app = shop_app
    sid = _saved(app, "US", country("US"))
    segment = _store(app).get(sid)
    first = _membership(app).refresh(segment, "manual", None, {sid: "US"})
    assert first.error is None
    assert (first.size, first.entered, first.exited) == (2, 2, 0)
    backend = app.warehouse.backend
    assert members_of(backend, sid) == {1, 2}

    backend.con.execute("UPDATE profiles SET country = 'FR' WHERE profile_id = 1")
    backend.con.execute("UPDATE profiles SET country = 'US' WHERE profile_id IN (3, 5)")
    _clock(app).advance(dt.timedelta(hours=1))
    second = _membership(app).refresh(segment, "schedule", None, {sid: "US"})
    assert (second.size, second.entered, second.exited) == (3, 2, 1)
    assert members_of(backend, sid) == {2, 3, 5}
    assert changes_of(backend, sid, second.refresh_id) == {"entered": {3, 5}, "exited": {1}}
    rows = _store(app).refreshes(sid)
    assert [(r.trigger, r.size, r.entered, r.exited, r.error) for r in rows] == [
        ("schedule", 3, 2, 1, None),
        ("manual", 2, 2, 0, None),
    ]
    saved = _store(app).get(sid)
    assert saved.size == 3
    assert saved.last_refreshed_at is not None
    assert saved.last_refreshed_at.replace(tzinfo=dt.UTC) == NOW + dt.timedelta(hours=1)


def test_a_refresh_computes_the_version_saved_when_its_turn_comes(shop_app: Lifetide) -> None:
    app = shop_app
    sid = _saved(app, "Here", country("US"))
    # Read before a save, as a refresh waiting for another one's lock would have read it.
    stale = _store(app).get(sid)
    _store(app).update(sid, author_id=None, definition=Definition.model_validate(country("GB")))

    outcome = _membership(app).refresh(stale, "manual", None, {sid: "Here"})

    assert outcome.error is None
    assert members_of(app.warehouse.backend, sid) == {3}
    assert _store(app).refreshes(sid)[0].version == 2


def test_a_segment_reads_another_as_of_its_last_refresh(shop_app: Lifetide) -> None:
    app = shop_app
    us = _saved(app, "US", country("US"))
    not_us = _saved(app, "Not US", in_segment(us, "not_in"))
    names = {us: "US", not_us: "Not US"}
    _membership(app).refresh(_store(app).get(us), "manual", None, names)
    _membership(app).refresh(_store(app).get(not_us), "manual", None, names)
    assert members_of(app.warehouse.backend, not_us) == {3, 4, 5}
    # Profile 3 moves to the US, but US is not refreshed: Not US still counts 3 out of it.
    app.warehouse.backend.con.execute("UPDATE profiles SET country = 'US' WHERE profile_id = 3")
    _membership(app).refresh(_store(app).get(not_us), "manual", None, names)
    assert members_of(app.warehouse.backend, not_us) == {3, 4, 5}
    _membership(app).refresh(_store(app).get(us), "manual", None, names)
    outcome = _membership(app).refresh(_store(app).get(not_us), "manual", None, names)
    assert (outcome.entered, outcome.exited) == (0, 1)
    assert members_of(app.warehouse.backend, not_us) == {4, 5}


def test_a_failing_refresh_keeps_the_old_members(shop_app: Lifetide) -> None:
    app = shop_app
    con = app.warehouse.backend.con
    con.execute("CREATE TABLE predictions AS SELECT 1::BIGINT AS profile_id, 10.0 AS clv_12m")
    data = {
        "root": {
            "type": "group",
            "children": [{"type": "prediction", "field": "clv_12m", "op": "gt", "value": 5}],
        }
    }
    sid = _saved(app, "Valuable", data)
    ok = _membership(app).refresh(_store(app).get(sid), "manual", None, {sid: "Valuable"})
    assert (ok.size, ok.error) == (1, None)
    con.execute("DROP TABLE predictions")
    failed = _membership(app).refresh(_store(app).get(sid), "manual", None, {sid: "Valuable"})
    assert failed.size is None
    assert failed.error is not None
    assert "no longer valid" in failed.error and "root.children.0.field" in failed.error
    assert members_of(app.warehouse.backend, sid) == {1}
    latest = _store(app).refreshes(sid)[0]
    assert latest.error == failed.error
    assert latest.finished_at is not None and latest.size is None
    assert _store(app).get(sid).size == 1


def test_static_segments_are_not_refreshed_from_rules(shop_app: Lifetide) -> None:
    store = _store(shop_app)
    segment = store.create(name="List", kind="static", definition=None, owner_id=None)
    with pytest.raises(SegmentError, match="static list: upload a new list"):
        _membership(shop_app).refresh(segment, "manual", None, {})
    outcome = _membership(shop_app).set_static(segment, [4, 2], None)
    assert (outcome.size, outcome.entered, outcome.exited) == (2, 2, 0)
    assert store.refreshes(segment.id)[0].trigger == "upload"
    assert members_of(shop_app.warehouse.backend, segment.id) == {2, 4}


def test_identifiers_resolve_by_email_record_id_and_profile_id(shop_app: Lifetide) -> None:
    app = shop_app
    now = app.clock.now()
    with transaction(app.sessions) as session:
        # An older e-mail of profile 3, known only to identity resolution, through a merge.
        old = Customer(id=30, created_at=now, updated_at=now, merged_into_id=None)
        session.add_all([Customer(id=3, created_at=now, updated_at=now), old])
        session.flush()
        old.merged_into_id = 3
        session.add(
            Identity(
                customer_id=30,
                kind="email",
                value="cy.old@example.com",
                first_seen_at=now,
                last_seen_at=now,
            )
        )
    found = resolve_identifiers(
        app.warehouse.duckdb,
        app.sessions,
        [
            " BO@example.com ",  # profile 2, e-mail normalized on both sides
            "u1",  # profile 1's user id
            "4000",  # a CRM id of profile 4 wins over profile id 4000 (there is none anyway)
            "5",  # profile id 5
            "Cy.Old@example.com",  # via the ops identity, merged into 3
            "nobody@example.com",
            "c999",
            "77",
            "",
            "u1",
            "nobody@example.com",
        ],
    )
    assert found.profile_ids == [1, 2, 3, 4, 5]
    assert found.unmatched == ["nobody@example.com", "c999", "77"]


def test_a_numeric_record_id_wins_over_a_profile_id(shop_app: Lifetide) -> None:
    con = shop_app.warehouse.duckdb
    con.execute("INSERT INTO profile_keys VALUES ('crm_id', '1', 4)")
    found = resolve_identifiers(con, shop_app.sessions, ["1", "2"])
    assert found.profile_ids == [2, 4]
    assert found.unmatched == []
