from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lifetide.accounts.service import accounts_for
from lifetide.context import Lifetide
from lifetide.web.app import create_app
from tests.segments import saved_shop
from tests.segments.saved_shop import BOUGHT_SKINCARE, country, in_segment
from tests.web.helpers import signed_in

Users = dict[str, tuple[str, str]]


@pytest.fixture
def client(app: Lifetide) -> Iterator[TestClient]:
    saved_shop.build(app.warehouse.backend)
    with TestClient(create_app(app)) as client:
        yield client


def _sign_in(client: TestClient, users: Users, role: str) -> dict[str, str]:
    return {"X-CSRF-Token": signed_in(client, *users[role])}


@pytest.fixture
def marketer(client: TestClient, studio_users: Users) -> dict[str, str]:
    return _sign_in(client, studio_users, "marketer")


@pytest.fixture
def analyst(client: TestClient, studio_users: Users) -> dict[str, str]:
    return _sign_in(client, studio_users, "analyst")


def _create(client: TestClient, headers: dict[str, str], name: str, data: dict[str, Any]) -> Any:
    response = client.post(
        "/api/segments", json={"name": name, "definition": data}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_everything_needs_a_sign_in(client: TestClient) -> None:
    for method, path in [
        ("GET", "/api/segments"),
        ("GET", "/api/segments/fields"),
        ("GET", "/api/segments/suggestions?source=brands"),
        ("POST", "/api/segments/count"),
        ("POST", "/api/segments/describe"),
        ("POST", "/api/segments"),
        ("GET", "/api/segments/1/versions"),
        ("GET", "/api/segments/1"),
        ("PATCH", "/api/segments/1"),
        ("DELETE", "/api/segments/1"),
        ("POST", "/api/segments/1/refresh"),
        ("GET", "/api/segments/1/changes"),
        ("POST", "/api/segments/static"),
    ]:
        response = client.request(method, path, json={"definition": country("US")})
        assert response.status_code == 401, (method, path)


def test_an_analyst_reads_and_counts_but_may_not_change(
    client: TestClient, studio_users: Users
) -> None:
    marketer = _sign_in(client, studio_users, "marketer")
    sid = _create(client, marketer, "US", country("US"))["id"]
    client.cookies.clear()
    analyst = _sign_in(client, studio_users, "analyst")
    assert client.get("/api/segments").status_code == 200
    assert client.get(f"/api/segments/{sid}").status_code == 200
    counted = client.post(
        "/api/segments/count", json={"definition": country("US")}, headers=analyst
    )
    assert counted.status_code == 200
    for method, path, body in [
        ("POST", "/api/segments", {"name": "x", "definition": country("US")}),
        ("PATCH", f"/api/segments/{sid}", {"name": "y"}),
        ("DELETE", f"/api/segments/{sid}", None),
        ("POST", f"/api/segments/{sid}/refresh", None),
        ("POST", "/api/segments/static", {"name": "z", "identifiers": ["u1"]}),
    ]:
        response = client.request(method, path, json=body, headers=analyst)
        assert response.status_code == 403, (method, path)
        assert "analyst" in response.json()["detail"]
    assert [s["name"] for s in client.get("/api/segments").json()] == ["US"]


def test_changes_need_the_csrf_token_with_a_cookie(
    client: TestClient, marketer: dict[str, str]
) -> None:
    response = client.post("/api/segments", json={"name": "x", "definition": country("US")})
    assert response.status_code == 403


def test_fields_and_suggestions(client: TestClient, analyst: dict[str, str]) -> None:
    fields = client.get("/api/segments/fields").json()
    assert "country" in [f["key"] for f in fields["profile"]]
    assert fields["operator_labels"]["eq"] == "is"
    found = client.get("/api/segments/suggestions", params={"source": "products", "prefix": "ro"})
    assert found.json() == {
        "source": "products",
        "suggestions": [{"value": "p1", "label": "Rose Cleanser", "count": 1}],
    }
    values = client.get(
        "/api/segments/suggestions", params={"source": "values", "field": "country", "limit": 1}
    )
    assert [s["value"] for s in values.json()["suggestions"]] == ["US"]
    bad = client.get("/api/segments/suggestions", params={"source": "values", "field": "password"})
    assert bad.status_code == 422
    assert "unknown field 'password'" in bad.json()["detail"]
    assert client.get("/api/segments/suggestions", params={"source": "x"}).status_code == 422


def test_count_and_describe(client: TestClient, analyst: dict[str, str]) -> None:
    response = client.post(
        "/api/segments/count", json={"definition": BOUGHT_SKINCARE}, headers=analyst
    )
    body = response.json()
    assert (body["count"], body["total"], body["share"]) == (2, 5, 0.4)
    assert body["description"] and body["seconds"] >= 0
    described = client.post(
        "/api/segments/describe", json={"definition": country("GB")}, headers=analyst
    )
    assert "GB" in described.json()["description"]


def test_a_sql_looking_value_is_just_a_value(
    client: TestClient, analyst: dict[str, str], app: Lifetide
) -> None:
    data = country("x'; DROP TABLE orders; --")
    response = client.post("/api/segments/count", json={"definition": data}, headers=analyst)
    assert response.status_code == 200
    assert response.json()["count"] == 0
    assert app.warehouse.count("orders") == 3


def test_a_bad_definition_answers_422_at_the_node(
    client: TestClient, analyst: dict[str, str]
) -> None:
    data = {
        "root": {
            "type": "group",
            "op": "and",
            "children": [
                {"type": "trait", "field": "country", "op": "eq", "value": "US"},
                {"type": "purchase", "measure": "count", "op": "gte", "value": "lots"},
            ],
        }
    }
    response = client.post("/api/segments/count", json={"definition": data}, headers=analyst)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail[0]["loc"] == ["root", "children", 1, "value"]
    assert detail[0]["msg"]
    shape = client.post(
        "/api/segments/count", json={"definition": {"root": {"type": "wat"}}}, headers=analyst
    )
    assert shape.status_code == 422
    assert shape.json()["detail"][0]["loc"][0] == "root"


def test_save_change_refresh_and_archive(
    client: TestClient, marketer: dict[str, str], app: Lifetide
) -> None:
    created = _create(client, marketer, "US", country("US"))
    sid = created["id"]
    assert (created["version"], created["size"], created["owner_email"]) == (
        1,
        2,
        "marketer@example.com",
    )
    assert created["refreshes"][0]["trigger"] == "save"
    again = client.post(
        "/api/segments", json={"name": "us", "definition": country("GB")}, headers=marketer
    )
    assert again.status_code == 409
    assert "exists already" in again.json()["detail"]

    changed = client.patch(
        f"/api/segments/{sid}",
        json={"name": "Americas", "description": "US for now", "refresh_minutes": None},
        headers=marketer,
    ).json()
    assert (changed["version"], changed["name"], changed["refresh_minutes"]) == (
        2,
        "Americas",
        None,
    )
    assert changed["description"] == "US for now"
    versions = client.get(f"/api/segments/{sid}/versions").json()
    assert [(v["version"], v["name"]) for v in versions] == [(2, "Americas"), (1, "US")]

    app.warehouse.backend.con.execute("UPDATE profiles SET country = 'US' WHERE profile_id = 4")
    app.warehouse.backend.con.execute("UPDATE profiles SET country = 'FR' WHERE profile_id = 1")
    refreshed = client.post(f"/api/segments/{sid}/refresh", headers=marketer).json()
    assert (refreshed["size"], refreshed["entered"], refreshed["exited"]) == (2, 1, 1)

    page = client.get(f"/api/segments/{sid}/changes", params={"limit": 2}).json()
    assert [(c["profile_id"], c["change"]) for c in page["changes"]] == [
        (4, "entered"),
        (1, "exited"),
    ]
    assert page["next_offset"] == 2
    rest = client.get(f"/api/segments/{sid}/changes", params={"limit": 2, "offset": 2}).json()
    assert sorted(c["profile_id"] for c in rest["changes"]) == [1, 2]
    assert rest["next_offset"] is None

    assert client.delete(f"/api/segments/{sid}", headers=marketer).status_code == 204
    assert client.get(f"/api/segments/{sid}").status_code == 404
    assert client.get("/api/segments").json() == []


def test_loops_missing_segments_and_failed_refreshes(
    client: TestClient, marketer: dict[str, str], app: Lifetide
) -> None:
    a = _create(client, marketer, "A", country("US"))["id"]
    b = _create(client, marketer, "B", in_segment(a))["id"]
    loop = client.patch(f"/api/segments/{a}", json={"definition": in_segment(b)}, headers=marketer)
    assert loop.status_code == 409
    assert "'A' uses 'B' uses 'A'" in loop.json()["detail"]
    used = client.delete(f"/api/segments/{a}", headers=marketer)
    assert used.status_code == 409
    missing = client.post(
        "/api/segments", json={"name": "C", "definition": in_segment(404)}, headers=marketer
    )
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["root", "children", 0, "segment_id"]
    assert client.get("/api/segments/404").status_code == 404
    assert client.post("/api/segments/404/refresh", headers=marketer).status_code == 404

    con = app.warehouse.backend.con
    con.execute("CREATE TABLE predictions AS SELECT 1::BIGINT AS profile_id, 9.0 AS clv_12m")
    rich = {
        "root": {
            "type": "group",
            "children": [{"type": "prediction", "field": "clv_12m", "op": "gt", "value": 1}],
        }
    }
    sid = _create(client, marketer, "Rich", rich)["id"]
    con.execute("DROP TABLE predictions")
    failed = client.post(f"/api/segments/{sid}/refresh", headers=marketer)
    assert failed.status_code == 409
    assert "the members are unchanged" in failed.json()["detail"]
    assert client.get(f"/api/segments/{sid}").json()["size"] == 1


def test_static_upload_as_json_and_as_csv(client: TestClient, marketer: dict[str, str]) -> None:
    response = client.post(
        "/api/segments/static",
        json={"name": "Guests", "identifiers": ["ada@example.com", "c2", "ghost@example.com"]},
        headers=marketer,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["identifiers"], body["matched"], body["unmatched_count"]) == (3, 2, 1)
    assert body["unmatched"] == ["ghost@example.com"]
    assert (body["segment"]["kind"], body["segment"]["size"]) == ("static", 2)

    csv_file = b"\xef\xbb\xbfEmail,name\ncy@example.com,Cy\nDI@example.com,Di\nnobody@x.org,\n"
    uploaded = client.post(
        "/api/segments/static",
        data={"name": "From CSV", "description": "fair"},
        files={"file": ("list.csv", csv_file, "text/csv")},
        headers=marketer,
    )
    assert uploaded.status_code == 201, uploaded.text
    body = uploaded.json()
    assert (body["matched"], body["unmatched"]) == (2, ["nobody@x.org"])
    assert body["segment"]["description"] == "fair"

    no_column = client.post(
        "/api/segments/static",
        data={"name": "Bad"},
        files={"file": ("list.csv", b"who\nada@example.com\n", "text/csv")},
        headers=marketer,
    )
    assert no_column.status_code == 422
    assert "'identifier' or 'email'" in no_column.json()["detail"]
    no_name = client.post("/api/segments/static", json={"identifiers": ["u1"]}, headers=marketer)
    assert no_name.status_code == 422
    assert no_name.json()["detail"][0]["loc"] == ["name"]


def test_the_api_description_lists_the_segment_routes(
    client: TestClient, analyst: dict[str, str]
) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/segments", "/api/segments/count", "/api/segments/{segment_id}/changes"):
        assert path in paths
    static = paths["/api/segments/static"]["post"]["requestBody"]["content"]
    assert set(static) == {"application/json", "multipart/form-data"}


def test_a_script_saves_with_an_api_token_and_no_csrf(
    client: TestClient, studio_users: Users, app: Lifetide
) -> None:
    accounts = accounts_for(app)
    marketer = accounts.user_by_email(studio_users["marketer"][0])
    analyst = accounts.user_by_email(studio_users["analyst"][0])
    assert marketer is not None and analyst is not None
    token = accounts.create_token(marketer, "nightly")
    response = client.post(
        "/api/segments",
        json={"name": "Scripted", "definition": country("GB")},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["owner_email"] == "marketer@example.com"
    read_only = accounts.create_token(analyst, "reports")
    refused = client.post(
        f"/api/segments/{response.json()['id']}/refresh",
        headers={"Authorization": f"Bearer {read_only}"},
    )
    assert refused.status_code == 403
