from __future__ import annotations

import datetime as dt
import threading

import pytest

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.ops.database import transaction
from lifetide.ops.models import User
from lifetide.segments.service import SegmentError, SegmentNotFound, SegmentService
from lifetide.segments.suggestions import SuggestionError
from lifetide.segments.validate import InvalidDefinition
from lifetide.worker import Worker
from tests.segments.saved_shop import BOUGHT_SKINCARE, NOW, country, in_segment, members_of


@pytest.fixture
def service(shop_app: Lifetide) -> SegmentService:
    return SegmentService(shop_app)


@pytest.fixture
def mia(shop_app: Lifetide) -> User:
    with transaction(shop_app.sessions) as session:
        user = User(email="mia@shop.test", role="marketer", password_hash="-", created_at=NOW)
        session.add(user)
    return user


def _clock(app: Lifetide) -> ManualClock:
    assert isinstance(app.clock, ManualClock)
    return app.clock


def test_count_gives_count_total_share_and_sentence(service: SegmentService) -> None:
    result = service.count(country("US"))
    assert (result.count, result.total, result.share) == (2, 5, 0.4)
    assert "US" in result.description
    assert result.seconds >= 0
    bought = service.count(BOUGHT_SKINCARE)
    assert (bought.count, bought.total) == (2, 5)  # o1 by c2 (2), o3 by c3 (3)


def test_count_on_an_empty_warehouse_has_share_zero(app: Lifetide) -> None:
    result = SegmentService(app).count(country("US"))
    assert (result.count, result.total, result.share) == (0, 0, 0.0)


def test_a_value_that_looks_like_sql_is_only_a_value(
    service: SegmentService, shop_app: Lifetide
) -> None:
    result = service.count(country("x'; DROP TABLE orders; --"))
    assert result.count == 0
    assert shop_app.warehouse.count("orders") == 3


def test_count_refuses_a_bad_definition_pointing_at_the_node(service: SegmentService) -> None:
    data = {
        "root": {
            "type": "group",
            "children": [
                {"type": "trait", "field": "country", "op": "eq", "value": "US"},
                {"type": "trait", "field": "shoe_size", "op": "eq", "value": "9"},
            ],
        }
    }
    with pytest.raises(InvalidDefinition) as caught:
        service.count(data)
    assert caught.value.to_json()[0]["loc"] == ["root", "children", 1, "field"]


def test_describe(service: SegmentService) -> None:
    assert "US" in service.describe(country("US"))


def test_create_saves_v1_and_refreshes(service: SegmentService, mia: User) -> None:
    detail = service.create("US", country("US"), mia, description="Stateside")
    assert (detail.name, detail.kind, detail.version, detail.size) == ("US", "rules", 1, 2)
    assert detail.owner_email == "mia@shop.test"
    assert detail.refresh_minutes == 60
    assert detail.description == "Stateside"
    assert detail.definition is not None
    assert detail.definition["root"]["children"][0]["value"] == "US"
    assert "US" in detail.sentence
    assert [(r.trigger, r.size, r.entered) for r in detail.refreshes] == [("save", 2, 2)]
    assert detail.last_refreshed_at == NOW
    assert [s.name for s in service.list()] == ["US"]
    assert service.list()[0].owner_email == "mia@shop.test"


def test_update_makes_a_version_and_refreshes(
    service: SegmentService, shop_app: Lifetide, mia: User
) -> None:
    sid = service.create("Place", country("US"), mia).id
    _clock(shop_app).advance(dt.timedelta(minutes=5))
    detail = service.update(sid, mia, definition=country("GB"))
    assert (detail.version, detail.size) == (2, 1)
    assert (detail.refreshes[0].entered, detail.refreshes[0].exited) == (1, 2)
    renamed = service.update(sid, None, name="Britain", refresh_minutes=None)
    assert (renamed.version, renamed.name, renamed.refresh_minutes) == (3, "Britain", None)
    assert len(renamed.refreshes) == 2  # a rename does not recompute
    versions = service.versions(sid)
    assert [(v.version, v.name, v.author_email) for v in versions] == [
        (3, "Britain", None),
        (2, "Place", "mia@shop.test"),
        (1, "Place", "mia@shop.test"),
    ]
    assert versions[2].definition is not None
    assert versions[2].definition["root"]["children"][0]["value"] == "US"


def test_update_and_create_refuse_bad_input(service: SegmentService) -> None:
    sid = service.create("US", country("US"), None).id
    with pytest.raises(InvalidDefinition):
        service.update(sid, None, definition={"root": {"type": "nonsense"}})
    with pytest.raises(InvalidDefinition) as caught:
        service.create("Loop", in_segment(99), None)
    assert caught.value.to_json()[0]["loc"] == ["root", "children", 0, "segment_id"]
    with pytest.raises(SegmentError, match="in a loop"):
        service.update(sid, None, definition=in_segment(sid))
    with pytest.raises(SegmentNotFound):
        service.get(404)


def test_refresh_reports_entered_and_exited_and_changes_page_newest_first(
    service: SegmentService, shop_app: Lifetide
) -> None:
    sid = service.create("US", country("US"), None).id
    shop_app.warehouse.backend.con.execute(
        "UPDATE profiles SET country = 'US' WHERE profile_id = 4"
    )
    shop_app.warehouse.backend.con.execute(
        "UPDATE profiles SET country = 'GB' WHERE profile_id = 2"
    )
    _clock(shop_app).advance(dt.timedelta(hours=2))
    result = service.refresh(sid, "manual", None)
    assert (result.size, result.entered, result.exited, result.error) == (2, 1, 1, None)

    changes = service.changes(sid)
    assert [(c.profile_id, c.change) for c in changes] == [
        (4, "entered"),
        (2, "exited"),
        (1, "entered"),
        (2, "entered"),
    ]
    assert changes[0].changed_at == NOW + dt.timedelta(hours=2)
    assert changes[0].refresh_id == result.refresh_id
    assert [c.profile_id for c in service.changes(sid, limit=2, offset=2)] == [1, 2]
    later = service.changes(sid, since=NOW + dt.timedelta(hours=1))
    assert [(c.profile_id, c.change) for c in later] == [(4, "entered"), (2, "exited")]


def test_member_ids_reads_the_stored_members(service: SegmentService) -> None:
    sid = service.create("US", country("US"), None).id
    ids = service.member_ids(sid).to_pyarrow().column("profile_id").to_pylist()
    assert sorted(ids) == [1, 2]


def test_static_upload_reports_unmatched(
    service: SegmentService, shop_app: Lifetide, mia: User
) -> None:
    result = service.create_static(
        "Event guests", ["ada@example.com", "c3", "5", "ghost@example.com", "zz"], mia
    )
    assert result.identifiers == 5
    assert result.matched == 3
    assert result.unmatched == ["ghost@example.com", "zz"]
    assert (result.segment.kind, result.segment.size) == ("static", 3)
    assert result.segment.sentence == "An uploaded list of 3 profiles."
    assert result.segment.refreshes[0].trigger == "upload"
    assert members_of(shop_app.warehouse.backend, result.segment.id) == {1, 3, 5}
    with pytest.raises(SegmentError, match="no identifiers"):
        service.create_static("Empty", [" ", ""], mia)
    with pytest.raises(SegmentError, match="static list: upload"):
        service.refresh(result.segment.id, "manual", None)
    # A rules segment can use the list.
    inside = service.create("Guests", in_segment(result.segment.id), None)
    assert inside.size == 3


def test_archive_hides_the_segment(service: SegmentService) -> None:
    sid = service.create("US", country("US"), None).id
    service.archive(sid, None)
    assert service.list() == []
    with pytest.raises(SegmentNotFound):
        service.get(sid)


def test_refresh_due_refreshes_only_due_segments(
    service: SegmentService, shop_app: Lifetide
) -> None:
    hourly = service.create("Hourly", country("US"), None, refresh_minutes=60).id
    service.create("Manual", country("US"), None, refresh_minutes=None)
    assert service.refresh_due() == 0
    shop_app.warehouse.backend.con.execute(
        "UPDATE profiles SET country = 'US' WHERE profile_id = 3"
    )
    _clock(shop_app).advance(dt.timedelta(minutes=60))
    assert service.refresh_due() == 1
    detail = service.get(hourly)
    assert (detail.size, detail.refreshes[0].trigger, detail.refreshes[0].entered) == (
        3,
        "schedule",
        1,
    )
    assert service.refresh_due() == 0


def test_the_worker_refreshes_due_segments_from_its_thread(
    service: SegmentService, shop_app: Lifetide
) -> None:
    sid = service.create("Hourly", country("US"), None, refresh_minutes=60).id
    _clock(shop_app).advance(dt.timedelta(minutes=61))
    done: list[int] = []
    # The worker runs in its own thread, on its own DuckDB cursor.
    thread = threading.Thread(target=lambda: done.append(Worker(shop_app).run_once()))
    thread.start()
    thread.join()
    assert done == [1]
    assert service.get(sid).refreshes[0].trigger == "schedule"


def test_suggestions(service: SegmentService) -> None:
    assert service.suggestions("categories") == ["skincare", "makeup", "haircare"]
    assert service.suggestions("categories", "SK") == ["skincare"]
    assert service.suggestions("brands", "brand") == ["BrandB", "BrandA", "BrandC"]
    products = service.suggest("products", "r")
    assert [(s.value, s.label, s.count) for s in products] == [("p1", "Rose Cleanser", 1)]
    assert service.suggestions("products", limit=2) == ["p1", "p2"]
    assert service.suggestions("promo_codes") == ["SPRING"]
    assert service.suggestions("event_names") == [
        "Product Viewed",
        "Email Opened",
        "Product Added",
    ]
    assert service.suggestions("campaigns", "spr") == ["spring-launch"]
    assert service.suggestions("values", "", field="country") == ["US", "FR", "GB"]
    assert service.suggestions("values", "'", field="city") == []


def test_suggestions_refuse_unknown_sources_and_fields(service: SegmentService) -> None:
    with pytest.raises(SuggestionError, match="unknown suggestion source"):
        service.suggestions("passwords")
    with pytest.raises(SuggestionError, match="need a field"):
        service.suggestions("values")
    with pytest.raises(SuggestionError, match="unknown field 'password_hash"):
        service.suggestions("values", field="password_hash")
    with pytest.raises(SuggestionError, match="unknown field"):
        service.suggestions("values", field="country; DROP TABLE profiles")
    with pytest.raises(SuggestionError, match="is a boolean"):
        service.suggestions("values", field="email_consent")


def test_total_profiles_and_a_sample_of_members(service: SegmentService) -> None:
    segment = service.create("US", country("US"), None)

    assert service.total_profiles() == 5
    assert service.sample(segment.id) == [
        {"profile_id": 1, "email": "ada@example.com", "first_name": "Ada", "last_name": None},
        {"profile_id": 2, "email": "Bo@Example.com", "first_name": "Bo", "last_name": None},
    ]
    assert [m["profile_id"] for m in service.sample(segment.id, n=1)] == [1]
    with pytest.raises(SegmentNotFound):
        service.sample(999)


def test_total_profiles_of_an_empty_warehouse(app: Lifetide) -> None:
    assert SegmentService(app).total_profiles() == 0
