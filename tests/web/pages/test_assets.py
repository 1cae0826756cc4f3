from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lifetide.context import Lifetide
from lifetide.web.app import create_app
from lifetide.web.pages.assets import (
    NODE_MODULES,
    VENDOR_FILES,
    check_vendor_files,
    missing_vendor_files,
    vendor_path,
)


@pytest.fixture
def client(app: Lifetide) -> Iterator[TestClient]:
    with TestClient(create_app(app)) as test_client:
        yield test_client


def test_our_own_files_are_served_without_a_sign_in(client: TestClient) -> None:
    css = client.get("/static/css/studio.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert client.get("/static/js/builder.js").status_code == 200
    assert client.get("/static/img/logo.svg").status_code == 200
    assert client.get("/static/nothing.css").status_code == 404
    assert client.get("/static/../pages/auth.py").status_code == 404


def test_vendor_files_come_from_node_modules(client: TestClient) -> None:
    if missing_vendor_files():
        pytest.fail(f"run scripts/setup: {', '.join(missing_vendor_files())} not installed")
    for name, relative in VENDOR_FILES.items():
        response = client.get(f"/static/vendor/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith("text/javascript")
        assert response.content == (NODE_MODULES / relative).read_bytes()
    # Only the files in the map, nothing else from node_modules.
    assert client.get("/static/vendor/package.json").status_code == 404
    assert client.get("/static/vendor/..%2Fchart.js%2Fpackage.json").status_code == 404


def test_the_map_names_real_files() -> None:
    assert vendor_path("alpine.js") == NODE_MODULES / "alpinejs/dist/cdn.min.js"
    assert vendor_path("jquery.js") is None
    lock = (NODE_MODULES.parent / "package-lock.json").read_text()
    assert '"node_modules/alpinejs"' in lock and '"node_modules/chart.js"' in lock


def test_missing_vendor_files_say_what_to_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        assert check_vendor_files(tmp_path) is False

    assert missing_vendor_files(tmp_path) == list(VENDOR_FILES)
    assert "run scripts/setup" in caplog.text
    assert "alpine.js" in caplog.text


def test_pages_use_only_our_origin(client: TestClient) -> None:
    page = client.get("/login").text
    assert "/static/vendor/alpine.js" in page
    assert "http://" not in page and "https://" not in page
