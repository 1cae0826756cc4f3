from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from lifetide.context import Lifetide
from lifetide.segments.service import SegmentService
from lifetide.web.pages import uploads
from tests.web.pages.conftest import SignIn

CSV_FILE = b"\xef\xbb\xbfEmail,name\ncy@example.com,Cy\nDI@example.com,Di\nnobody@x.org,\n"


def _upload(
    client: TestClient,
    csrf: str,
    name: str = "Open-day guests",
    text: str = "",
    file: bytes | None = None,
    description: str = "",
) -> httpx.Response:
    data = {"csrf_token": csrf, "name": name, "description": description, "text": text}
    # A browser sends an empty file part when no file was chosen.
    files = {"file": ("list.csv" if file is not None else "", file or b"", "text/csv")}
    response: httpx.Response = client.post("/segments/upload", data=data, files=files)
    return response


def _new_segment(client: TestClient, response: httpx.Response) -> tuple[int, str]:
    """The id of the segment the upload redirected to, and that page as first shown."""
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    found = re.fullmatch(r"/segments/(\d+)", location)
    assert found is not None, location
    return int(found.group(1)), client.get(location).text


def test_the_upload_pages_need_a_sign_in(client: TestClient) -> None:
    page = client.get("/segments/upload")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/segments/upload"

    posted = client.post("/segments/upload", data={"name": "x", "text": "u1"})
    assert posted.status_code == 303
    assert posted.headers["location"].startswith("/login")


def test_analysts_get_no_upload_button_and_may_not_upload(
    client: TestClient, sign_in: SignIn, shop: Lifetide
) -> None:
    csrf = sign_in("analyst")

    assert 'data-action="upload-list"' not in client.get("/segments").text
    assert client.get("/segments/upload").status_code == 403
    assert _upload(client, csrf, text="u1").status_code == 403
    assert [s.name for s in SegmentService(shop).list()] == ["Skincare or at risk"]


def test_writers_see_the_upload_button_and_the_form(client: TestClient, sign_in: SignIn) -> None:
    csrf = sign_in("marketer")

    assert 'href="/segments/upload" data-action="upload-list"' in client.get("/segments").text
    page = client.get("/segments/upload")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.text
    assert f'name="csrf_token" value="{csrf}"' in page.text
    assert 'name="file"' in page.text and 'name="text"' in page.text
    assert "/static/js/upload.js" in page.text
    assert '"max_bytes": 20971520' in page.text


def test_a_csv_upload_makes_a_static_segment_and_reports_who_was_not_found(
    client: TestClient, sign_in: SignIn, shop: Lifetide
) -> None:
    csrf = sign_in("marketer")

    response = _upload(client, csrf, file=CSV_FILE, description="From the spring open day")
    segment_id, page = _new_segment(client, response)

    segment = SegmentService(shop).get(segment_id)
    assert (segment.kind, segment.size, segment.name) == ("static", 2, "Open-day guests")
    assert segment.description == "From the spring open day"
    assert segment.owner_email == "marketer@example.com"
    assert "Uploaded “Open-day guests”: 2 of 3 matched; 1 not found." in page
    assert 'data-testid="unmatched"' in page
    assert "1 uploaded identifier matched no customer profile" in page
    assert '<li title="nobody@x.org">nobody@x.org</li>' in page
    # Both are shown once only.
    again = client.get(f"/segments/{segment_id}").text
    assert "nobody@x.org" not in again and "2 of 3 matched" not in again


def test_pasted_identifiers_make_a_static_segment(
    client: TestClient, sign_in: SignIn, shop: Lifetide
) -> None:
    csrf = sign_in("marketer")

    response = _upload(client, csrf, "Pasted", text="email\r\nada@example.com\r\n\r\nc2\r\nghost")
    segment_id, page = _new_segment(client, response)

    assert SegmentService(shop).get(segment_id).size == 2
    assert "2 of 3 matched; 1 not found." in page
    assert '<li title="ghost">ghost</li>' in page


def test_when_everyone_matches_there_is_no_not_found_card(
    client: TestClient, sign_in: SignIn
) -> None:
    csrf = sign_in("admin")

    _segment_id, page = _new_segment(client, _upload(client, csrf, text="u1\nc2"))

    assert "2 of 2 matched; 0 not found." in page
    assert 'class="flash flash-success"' in page
    assert 'data-testid="unmatched"' not in page


def test_only_the_first_20_unmatched_are_listed(client: TestClient, sign_in: SignIn) -> None:
    csrf = sign_in("marketer")
    ghosts = [f"ghost-{n:02}@nowhere.example" for n in range(25)]

    _segment_id, page = _new_segment(client, _upload(client, csrf, text="\n".join(ghosts)))

    assert "0 of 25 matched; 25 not found." in page
    assert "25 uploaded identifiers matched no customer profile" in page
    shown = re.findall(r'<li title="(ghost-\d+@nowhere\.example)">', page)
    assert shown == ghosts[:20]
    assert "and 5 more" in page


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"text": ""}, "Choose a CSV file, or paste identifiers, one a line."),
        ({"text": "u1", "file": CSV_FILE}, "Give a CSV file or a pasted list, not both."),
        (
            {"file": b"who\nada@example.com\n"},
            "list.csv: The CSV&#39;s header (its first line) needs a column called "
            "&#39;identifier&#39; or &#39;email&#39;; it has &#39;who&#39;.",
        ),
        ({"file": b"identifier\n\n"}, "list.csv: the identifier column is empty."),
        ({"text": "email\n"}, "The pasted list holds no identifiers, only a header."),
        ({"name": "  ", "text": "u1"}, "Give the list a name."),
        (
            {"name": "skincare OR AT RISK", "text": "u1"},
            "A segment called &#39;Skincare or at risk&#39; exists already; choose another name.",
        ),
    ],
)
def test_bad_input_comes_back_on_the_form_with_a_reason(
    client: TestClient,
    sign_in: SignIn,
    shop: Lifetide,
    fields: dict[str, Any],
    message: str,
) -> None:
    csrf = sign_in("marketer")
    args: dict[str, Any] = {"name": "Keep me", "description": "kept too", **fields}

    response = _upload(client, csrf, **args)

    assert response.status_code == 422
    page = response.text
    assert 'data-testid="upload-error"' in page
    assert message in page
    # What was typed is kept.
    assert f'value="{args["name"]}"' in page
    assert ">kept too</textarea>" in page
    assert len(SegmentService(shop).list()) == 1


def test_a_file_over_the_limit_is_refused_with_its_size(
    client: TestClient, sign_in: SignIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert uploads.MAX_UPLOAD_BYTES == 20 * 2**20
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 2**20)
    csrf = sign_in("marketer")
    big = b"identifier\n" + b"someone@example.com\n" * 60_000  # 1.1 MB

    response = _upload(client, csrf, file=big)

    assert response.status_code == 413
    assert (
        "The file is 1.1 MB; a list may be at most 1 MB. Split it into smaller files."
        in response.text
    )


def test_a_request_far_over_the_limit_is_refused_before_it_is_read(
    client: TestClient, sign_in: SignIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploads, "MAX_REQUEST_BYTES", 2**20)
    csrf = sign_in("marketer")
    big = b"identifier\n" + b"someone@example.com\n" * 60_000

    response = _upload(client, csrf, file=big)

    assert response.status_code == 413
    assert response.json() == {"detail": "the upload is larger than 20 MB; split the list"}
