"""`lifetide import`, `imports`, `summary` and `db`, run as a user runs them."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from typer.testing import CliRunner

from lifetide.cli.app import app
from lifetide.context import Lifetide
from lifetide.ops.database import head_revision
from lifetide.ops.models import ShopperActivity
from lifetide.settings import load_settings
from tests.imports.conftest import PRODUCTS, VALID, write_csv

runner = CliRunner()


@pytest.fixture
def export(tmp_path: Path) -> Path:
    folder = tmp_path / "export"
    folder.mkdir()
    for name, rows in VALID.items():
        write_csv(folder / f"{name}.csv", rows)
    return folder


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_import_a_folder_then_summary(export: Path) -> None:
    code, out, _ = invoke("import", "all", str(export))
    assert code == 0
    assert "orders: 2 rows from orders.csv: 2 new, 0 updated, 0 unchanged" in out
    code, out, _ = invoke("summary")
    assert code == 0
    assert "customers who bought" in out
    assert "Gentle Cleanser" in out
    assert "50.0%" not in out  # neither customer has two orders
    assert "0.0%" in out


def test_importing_the_same_file_again_says_so(export: Path) -> None:
    invoke("import", "products", str(export / "products.csv"))
    code, out, _ = invoke("import", "products", str(export / "products.csv"))
    assert code == 0
    assert "0 new, 0 updated, 3 unchanged" in out
    assert "the same file was imported before" in out


def test_a_bad_file_exits_1_with_every_problem_and_is_logged(export: Path, tmp_path: Path) -> None:
    invoke("import", "all", str(export))
    bad = write_csv(
        tmp_path / "bad.csv", [*PRODUCTS, ["P9", "X", "skincare", "Acme", "abc", "mid", "true", ""]]
    )
    code, _, err = invoke("import", "products", str(bad))
    assert code == 1
    assert "rejected:" in err
    assert "nothing was changed" in err
    assert "row 4, column price: expected an amount" in err
    code, out, _ = invoke("imports")
    assert code == 0
    assert "rejected" in out


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["import", "sales", "x.csv"], 2, "unknown table 'sales'"),
        (["import", "all", "no-such-folder"], 1, "is not a folder"),
        (["import", "products", "no-such-file.csv"], 1, "no such file"),
    ],
)
def test_import_usage_errors(args: list[str], code: int, words: str) -> None:
    got, _, err = invoke(*args)
    assert got == code
    assert words in err


def test_db_commands_show_and_move_the_revision() -> None:
    latest = head_revision()
    code, out, _ = invoke("db", "current")
    assert code == 0 and f"current: base (empty); latest: {latest}" in out
    assert invoke("db", "upgrade", "0001")[0] == 0
    assert "current: 0001" in invoke("db", "current")[1]
    assert invoke("db", "upgrade")[0] == 0
    assert f"current: {latest}" in invoke("db", "current")[1]
    assert "at revision base" in invoke("db", "downgrade", "base")[1]


def test_data_dir_option_and_bad_setting(tmp_path: Path, export: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    code, _, _ = invoke(
        "--data-dir", str(elsewhere), "import", "products", str(export / "products.csv")
    )
    assert code == 0
    assert (elsewhere / "warehouse.duckdb").exists()
    a_file = write_csv(tmp_path / "f.csv", [["x"]])
    code, _, err = invoke("--data-dir", str(a_file), "summary")
    assert code == 2
    assert "exists and is not a folder" in err


def test_bad_environment_setting_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFETIDE_IMPORT_MAX_ERRORS", "many")
    code, _, err = invoke("summary")
    assert code == 1
    assert "settings:" in err and "import_max_errors" in err


def test_installed_script_runs(export: Path) -> None:
    script = Path(sys.executable).parent / "lifetide"
    done = subprocess.run(
        [str(script), "import", "all", str(export)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "events: 3 rows" in done.stdout
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == "lifetide 0.1.0"


def _recent_events(tmp_path: Path) -> Path:
    """Events a day old (the CLI's clock is the system's), and one from long ago."""
    when = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    header = ["message_id", "type", "event", "timestamp", "user_id", "product_id", "properties"]
    return write_csv(
        tmp_path / "events.csv",
        [
            header,
            ["v1", "track", "Product Viewed", when, "C1", "P1", '{"name": "Cleanser"}'],
            ["a1", "track", "Product Added", when, "C1", "P1", '{"cart_id": "k1"}'],
            ["old", "track", "Product Viewed", "2024-03-01T11:50:00Z", "C1", "P1", ""],
        ],
    )


def _activity_ids() -> list[str]:
    with Lifetide(load_settings()) as app, app.sessions() as session:
        found = session.scalars(select(ShopperActivity.message_id).order_by("message_id"))
        return list(found)


def test_an_events_import_fills_recent_activity_and_refresh_activity_repairs_it(
    export: Path, tmp_path: Path
) -> None:
    invoke("import", "products", str(export / "products.csv"))
    code, out, _ = invoke("import", "events", str(_recent_events(tmp_path)))
    assert code == 0, out
    assert _activity_ids() == ["a1", "v1"]  # the window's cart and view events, not the old one
    code, out, _ = invoke("refresh-activity")
    assert (code, "0 event(s) of the last 30 days added" in out) == (0, True)
    with Lifetide(load_settings()) as app, app.sessions.begin() as session:
        session.execute(delete(ShopperActivity))
    code, out, _ = invoke("refresh-activity")
    assert "2 event(s) of the last 30 days added, 0 older one(s) removed" in out
    assert _activity_ids() == ["a1", "v1"]
