"""`lifetide source`, `load` and `serve` options, as a user runs them."""

from __future__ import annotations

import base64

import orjson
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from lifetide.cli.app import app
from lifetide.context import Lifetide
from lifetide.settings import load_settings
from lifetide.web.app import create_app

runner = CliRunner()


def test_create_list_revoke_a_source() -> None:
    created = runner.invoke(app, ["source", "create", "website"])
    assert created.exit_code == 0
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("lt_wk_") and len(key) > 30
    listed = runner.invoke(app, ["source", "list"])
    assert "website" in listed.stdout and key[:10] in listed.stdout and key not in listed.stdout
    assert runner.invoke(app, ["source", "revoke", "website"]).exit_code == 0
    with Lifetide(load_settings()) as lifetide:
        assert lifetide.sources.active_id(key) is None


def test_source_errors() -> None:
    runner.invoke(app, ["source", "create", "website"])
    again = runner.invoke(app, ["source", "create", "website"])
    assert again.exit_code == 1 and "exists already" in again.stderr
    blank = runner.invoke(app, ["source", "create", "  "])
    assert blank.exit_code == 1 and "needs a name" in blank.stderr
    unknown = runner.invoke(app, ["source", "revoke", "nope"])
    assert unknown.exit_code == 1 and "no source called 'nope'" in unknown.stderr


def test_load_moves_the_journal_into_the_warehouse() -> None:
    key = runner.invoke(app, ["source", "create", "web"]).stdout.strip().splitlines()[-1]
    with Lifetide(load_settings()) as lifetide, TestClient(create_app(lifetide)) as client:
        auth = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
        batch = [
            {"type": "track", "event": "Cart Viewed", "userId": "u1", "messageId": f"m{i}"}
            for i in range(3)
        ]
        assert (
            client.post(
                "/v1/batch", content=orjson.dumps({"batch": batch}), headers=auth
            ).status_code
            == 200
        )
    loaded = runner.invoke(app, ["load"])
    assert loaded.exit_code == 0 and "loaded 3 message(s)" in loaded.stdout
    assert "loaded 0 message(s)" in runner.invoke(app, ["load"]).stdout


def test_serve_rejects_a_bad_port() -> None:
    result = runner.invoke(app, ["serve", "--port", "70000"])
    assert result.exit_code == 2
