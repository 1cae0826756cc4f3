from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from lifetide.accounts.service import accounts_for
from lifetide.context import Lifetide
from lifetide.segments.activation import SegmentActivation
from lifetide.segments.service import SegmentService
from tests.web.pages.conftest import SignIn

PAGES = ["/segments", "/segments/new", "/segments/1", "/segments/1/edit"]


def test_pages_need_a_sign_in(client: TestClient) -> None:
    for path in PAGES:
        response = client.get(path)

        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next={path}"


def test_pages_render_for_every_role(client: TestClient, sign_in: SignIn) -> None:
    for role in ("admin", "marketer", "analyst"):
        csrf = sign_in(role)
        for path in PAGES:
            response = client.get(path)

            assert response.status_code == 200, (role, path)
            assert response.headers["content-type"].startswith("text/html")
            assert f'<meta name="csrf-token" content="{csrf}">' in response.text
            assert f"{role.title()}</span>" in response.text  # the signed-in user in the nav
            # Shown only if Alpine.js never starts (it removes the notice): run scripts/setup.
            assert 'id="no-scripts" x-data x-init="$el.remove()"' in response.text


def test_the_list_shows_size_share_and_owner(client: TestClient, sign_in: SignIn) -> None:
    sign_in("marketer")
    page = client.get("/segments").text

    assert "Skincare or at risk" in page
    assert "Our test segment" in page
    # Three of the shop's six profiles.
    assert '<td class="num">3</td>' in page and "50.0%" in page
    assert "marketer@example.com" in page
    assert "6 customer profiles" in page
    assert 'data-action="new-segment"' in page


def test_the_list_filters_by_name(client: TestClient, sign_in: SignIn) -> None:
    sign_in("analyst")

    assert "Skincare or at risk" in client.get("/segments?q=SKIN").text
    missing = client.get("/segments?q=nothing-like-it").text
    assert "Skincare or at risk" not in missing
    assert "No segment matches" in missing


def _builder_data(page: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="builder-data">(.*?)</script>', page)
    assert found is not None
    data: dict[str, object] = json.loads(found.group(1))
    return data


def test_the_builder_gets_the_saved_definition(client: TestClient, sign_in: SignIn) -> None:
    sign_in("marketer")
    page = client.get("/segments/1/edit").text
    data = _builder_data(page)

    assert data["segment_id"] == 1
    assert data["name"] == "Skincare or at risk"
    assert data["refresh_minutes"] == 60
    assert data["readonly"] is False
    definition = data["definition"]
    assert isinstance(definition, dict)
    assert definition["root"]["op"] == "or"
    assert 'data-action="save"' in page
    assert "/static/js/builder.js" in page


def test_a_new_segment_starts_empty(client: TestClient, sign_in: SignIn) -> None:
    sign_in("marketer")
    data = _builder_data(client.get("/segments/new").text)

    assert data["segment_id"] is None
    assert data["definition"] is None
    assert data["refresh_minutes"] == 60


def test_analysts_see_no_save_new_refresh_or_export(client: TestClient, sign_in: SignIn) -> None:
    sign_in("analyst")

    assert 'data-action="new-segment"' not in client.get("/segments").text
    builder = client.get("/segments/1/edit").text
    assert 'data-action="save"' not in builder
    assert _builder_data(builder)["readonly"] is True
    assert "cannot save changes" in builder
    segment = client.get("/segments/1").text
    assert 'data-action="export"' not in segment
    assert 'data-action="refresh"' not in segment
    assert "View rules" in segment


def test_the_segment_page(client: TestClient, sign_in: SignIn) -> None:
    sign_in("marketer")
    page = client.get("/segments/1").text

    assert "Skincare or at risk" in page
    assert 'data-testid="sentence"' in page
    assert 'data-testid="size">3<' in page
    assert "50.0%" in page
    assert "Version 1" in page
    assert 'data-action="export"' in page
    assert 'data-action="refresh"' in page
    # The export's columns, with the contact ones ticked, and prediction columns.
    assert 'value="email" x-model="columns" checked' in page
    assert 'value="clv_12m"' in page
    # A sample of members links to their customer pages.
    for profile_id, name in ((1, "Ada Lovelace"), (3, "Cy Twombly"), (4, "Di Gregory")):
        assert f'href="/customers/{profile_id}"' in page
        assert name in page
    assert "Bo Diddley" not in page
    # The refresh that saving made (small_shop had written members 1, 2, 3 for segment 1).
    assert '<span class="badge">save</span>' in page
    assert "+1</td>" in page and "−1</td>" in page
    assert "/static/vendor/chart.js" in page


def test_a_missing_segment_is_a_404_page(client: TestClient, sign_in: SignIn) -> None:
    sign_in("marketer")
    for path in ("/segments/99", "/segments/99/edit"):
        response = client.get(path)
        assert response.status_code == 404
        assert "There is no segment 99" in response.text


def test_refresh_now(client: TestClient, sign_in: SignIn) -> None:
    csrf = sign_in("marketer")

    response = client.post("/segments/1/refresh", data={"csrf_token": csrf})

    assert response.status_code == 303
    assert response.headers["location"] == "/segments/1"
    page = client.get("/segments/1").text
    assert "Refreshed: 3 members, 0 entered, 0 left." in page
    # Shown once only.
    assert "Refreshed: 3 members" not in client.get("/segments/1").text


def test_analysts_cannot_refresh(client: TestClient, sign_in: SignIn) -> None:
    csrf = sign_in("analyst")

    assert client.post("/segments/1/refresh", data={"csrf_token": csrf}).status_code == 403
    assert client.post("/segments/1/refresh").status_code == 403


def test_an_uploaded_list_has_no_rules_to_edit(
    client: TestClient, sign_in: SignIn, shop: Lifetide
) -> None:
    static = SegmentService(shop).create_static("VIP list", ["1", "3"], None).segment
    sign_in("marketer")

    edit = client.get(f"/segments/{static.id}/edit")
    assert edit.status_code == 303
    assert edit.headers["location"] == f"/segments/{static.id}"
    page = client.get(f"/segments/{static.id}").text
    assert "Uploaded list" in page
    assert "Edit rules" not in page


def test_an_id_past_64_bits_is_refused_not_a_server_error(
    client: TestClient, sign_in: SignIn
) -> None:
    csrf = sign_in("marketer")

    for path in (
        "/segments/99999999999999999999",
        "/segments/99999999999999999999/edit",
        "/customers/99999999999999999999",
    ):
        assert client.get(path).status_code == 422, path
    refresh = client.post("/segments/99999999999999999999/refresh", data={"csrf_token": csrf})
    assert refresh.status_code == 422


def test_an_uploaded_list_offers_no_refresh_and_refusing_one_is_a_message(
    client: TestClient, sign_in: SignIn, shop: Lifetide
) -> None:
    static = SegmentService(shop).create_static("VIP list", ["1", "3"], None).segment
    csrf = sign_in("marketer")

    assert 'data-action="refresh"' not in client.get(f"/segments/{static.id}").text
    response = client.post(f"/segments/{static.id}/refresh", data={"csrf_token": csrf})

    assert response.status_code == 303
    assert response.headers["location"] == f"/segments/{static.id}"
    page = client.get(f"/segments/{static.id}").text
    assert "The segment was not refreshed: segment &#39;VIP list&#39; is a static list" in page


def test_the_builder_loads_the_definition_tree_before_the_builder(
    client: TestClient, sign_in: SignIn
) -> None:
    sign_in("marketer")
    page = client.get("/segments/new").text

    tree = page.index('<script defer src="/static/js/builder-definition.js"></script>')
    assert tree < page.index('<script defer src="/static/js/builder.js"></script>')
    assert page.index('<script defer src="/static/js/builder.js"></script>') < page.index(
        "/static/vendor/alpine.js"
    )


def test_with_no_destinations_the_push_control_links_to_the_destinations_page(
    client: TestClient, sign_in: SignIn, shop: Lifetide
) -> None:
    sign_in("marketer")

    page = client.get("/segments/1").text
    assert 'data-testid="no-destinations"' in page
    assert '<a href="/destinations">add a webhook destination</a>' in page
    assert "through the API" not in page

    SegmentActivation(shop).deliveries.create_destination(
        "CRM", "https://hooks.example.com/x", None
    )
    page = client.get("/segments/1").text
    assert 'data-testid="no-destinations"' not in page
    assert '"destinations": [{"id": 1, "name": "CRM"}]' in page


def _history_rows(page: str) -> list[str]:
    card = page.split('data-testid="history"', 1)[1]
    return re.findall(r"<tr>\s*(<td>.*?)</tr>", card, flags=re.S)


def test_the_history_card_lists_every_version_newest_first(
    client: TestClient, sign_in: SignIn, shop: Lifetide
) -> None:
    sign_in("analyst")
    assert len(_history_rows(client.get("/segments/1").text)) == 1

    admin = accounts_for(shop).user_by_email("admin@example.com")
    skincare = {"root": {"type": "purchase", "filters": {"categories": ["skincare"]}}}
    SegmentService(shop).update(1, admin, name="Skincare buyers", definition=skincare)
    page = client.get("/segments/1").text

    assert "2 saved versions, newest first" in page
    newest, oldest = _history_rows(page)
    assert '<span class="version-no current">v2</span>' in newest
    assert "Skincare buyers" in newest and "admin@example.com" in newest
    assert "skincare" in newest and "lifecycle stage" not in newest.lower()
    assert '<span class="version-no">v1</span>' in oldest
    assert "Skincare or at risk" in oldest and "marketer@example.com" in oldest
    assert "lifecycle stage" in oldest.lower()


def test_a_version_using_a_field_that_no_longer_exists_says_so(
    client: TestClient, sign_in: SignIn, shop: Lifetide
) -> None:
    skincare = {"root": {"type": "purchase", "filters": {"categories": ["skincare"]}}}
    SegmentService(shop).update(1, None, definition=skincare)
    # Version 1 used a prediction; without the predictions table, that field is gone.
    shop.warehouse.duckdb.execute("DROP TABLE predictions")
    sign_in("marketer")

    response = client.get("/segments/1")

    assert response.status_code == 200
    newest, oldest = _history_rows(response.text)
    assert '<span class="gone">(uses a field that no longer exists)</span>' in oldest
    assert "gone" not in newest and "skincare" in newest


def test_an_uploaded_list_has_one_version_without_rules(
    client: TestClient, sign_in: SignIn, shop: Lifetide
) -> None:
    static = SegmentService(shop).create_static("VIP list", ["1", "3"], None).segment
    sign_in("marketer")

    (row,) = _history_rows(client.get(f"/segments/{static.id}").text)

    assert "An uploaded list." in row and "VIP list" in row
