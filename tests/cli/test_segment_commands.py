"""`lifetide segment ...`, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lifetide.cli.app import app
from lifetide.context import Lifetide
from lifetide.settings import load_settings
from tests.segments import saved_shop
from tests.segments.saved_shop import country

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    with Lifetide(load_settings(data_dir=folder)) as lifetide:
        saved_shop.build(lifetide.warehouse.backend)
    return folder


def _run(data_dir: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--data-dir", str(data_dir), "segment", *args])
    return result.exit_code, result.output


def _file(tmp_path: Path, data: object, name: str = "definition.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def _sql(data_dir: Path, statement: str) -> None:
    with Lifetide(load_settings(data_dir=data_dir)) as lifetide:
        lifetide.warehouse.duckdb.execute(statement)


def test_count_prints_the_count_and_the_sentence(data_dir: Path, tmp_path: Path) -> None:
    code, out = _run(data_dir, "count", "--file", _file(tmp_path, country("US")))
    assert code == 0, out
    assert "2 of 5 profiles (40.0%)" in out
    assert "US" in out.splitlines()[1]


def test_count_reports_where_a_definition_is_wrong(data_dir: Path, tmp_path: Path) -> None:
    bad = {"root": {"type": "group", "children": [{"type": "trait", "field": "x", "op": "eq"}]}}
    code, out = _run(data_dir, "count", "--file", _file(tmp_path, bad))
    assert code == 1
    assert "root.children.0.field: unknown profile field 'x'" in out
    not_json = tmp_path / "broken.json"
    not_json.write_text("{", encoding="utf-8")
    code, out = _run(data_dir, "count", "--file", str(not_json))
    assert code == 1 and "is not JSON" in out


def test_create_list_show_refresh_changes(data_dir: Path, tmp_path: Path) -> None:
    code, out = _run(
        data_dir,
        "create",
        "US shoppers",
        "--file",
        _file(tmp_path, country("US")),
        "--description",
        "Everyone in the US",
        "--refresh-minutes",
        "0",
    )
    assert code == 0, out
    assert "segment 1 'US shoppers' saved: 2 profiles" in out
    code, out = _run(data_dir, "create", "us shoppers", "--file", _file(tmp_path, country("GB")))
    assert code == 1 and "exists already" in out

    code, out = _run(data_dir, "list")
    assert code == 0, out
    assert "US shoppers" in out and "on demand" in out

    code, out = _run(data_dir, "show", "1")
    assert code == 0, out
    assert "Segment 1: US shoppers (version 1)" in out
    assert "Everyone in the US" in out and "save" in out

    _sql(data_dir, "UPDATE profiles SET country = 'US' WHERE profile_id = 3")
    code, out = _run(data_dir, "refresh", "1")
    assert code == 0, out
    assert "segment 1: 3 members, 1 entered, 0 exited" in out
    code, out = _run(data_dir, "refresh", "--all")
    assert code == 0 and "segment 1: 3 members, 0 entered, 0 exited" in out

    code, out = _run(data_dir, "changes", "1", "--limit", "1")
    assert code == 0, out
    rows = [line for line in out.splitlines() if "entered" in line or "exited" in line]
    assert len(rows) == 1 and " 3 " in rows[0] and "entered" in rows[0]


def test_refresh_needs_one_target_and_missing_segments_fail(data_dir: Path) -> None:
    code, out = _run(data_dir, "refresh")
    assert code == 2 and "give a segment id or --all" in out
    code, out = _run(data_dir, "refresh", "1", "--all")
    assert code == 2
    code, out = _run(data_dir, "show", "9")
    assert code == 1 and "no segment 9" in out
    code, out = _run(data_dir, "refresh", "--all")
    assert code == 0 and "no rules segments" in out


def test_a_failed_refresh_exits_1(data_dir: Path, tmp_path: Path) -> None:
    _sql(data_dir, "CREATE TABLE predictions AS SELECT 1::BIGINT AS profile_id, 9.0 AS clv_12m")
    rich = {
        "root": {
            "type": "group",
            "children": [{"type": "prediction", "field": "clv_12m", "op": "gt", "value": 1}],
        }
    }
    code, out = _run(data_dir, "create", "Rich", "--file", _file(tmp_path, rich))
    assert code == 0, out
    _sql(data_dir, "DROP TABLE predictions")
    code, out = _run(data_dir, "refresh", "1")
    assert code == 1
    assert "failed, members unchanged" in out
