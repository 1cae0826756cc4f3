"""The CLI end to end on the synthetic retailer: synth, import all, summary, demo."""

from __future__ import annotations

from pathlib import Path

import duckdb
from typer.testing import CliRunner

from lifetide.cli.app import app

runner = CliRunner()


def test_synth_import_summary(tmp_path: Path) -> None:
    out = tmp_path / "shop"
    result = runner.invoke(app, ["synth", "--customers", "400", "--seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "truth" / "params.json").exists()
    result = runner.invoke(app, ["import", "all", str(out)])
    assert result.exit_code == 0, result.output
    for table in ("products", "customers", "orders", "order_items", "events"):
        assert f"{table}: " in result.stdout
    # What the warehouse holds equals the generated files, row for row.
    warehouse = Path("lifetide-data/warehouse.duckdb")
    con = duckdb.connect()
    for table in ("customers", "orders", "order_items", "events"):
        generated = con.execute(f"SELECT count(*) FROM '{out / table}.parquet'").fetchone()
        stored = (
            duckdb.connect(str(warehouse), read_only=True)
            .execute(f"SELECT count(*) FROM {table}")
            .fetchone()
        )
        assert generated == stored, table
    result = runner.invoke(app, ["summary"])
    assert result.exit_code == 0
    assert "skincare" in result.stdout and "online" in result.stdout and "store" in result.stdout


def test_demo_twice_changes_nothing_the_second_time() -> None:
    first = runner.invoke(app, ["demo", "--customers", "300", "--no-serve"])
    assert first.exit_code == 0, first.output
    assert "Retailer summary" in first.stdout
    assert "journeys run from" in first.stdout and "e-mails sent" in first.stdout
    second = runner.invoke(app, ["demo", "--customers", "300", "--no-serve"])
    assert second.exit_code == 0, second.output
    lines = [line for line in second.stdout.splitlines() if " rows from " in line]
    assert len(lines) == 5
    assert all("0 new, 0 updated" in line for line in lines), lines
    # The journeys ran up to now the first time: the hours are not lived twice.
    assert "journeys already run up to now" in second.stdout


def test_synth_rejects_bad_options() -> None:
    result = runner.invoke(app, ["synth", "--customers", "0"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["synth", "--end", "yesterday"])
    assert result.exit_code == 2


def test_demo_refuses_a_rehearsal_past_90_days() -> None:
    result = runner.invoke(app, ["demo", "--rehearse-days", "91", "--no-serve"])
    assert result.exit_code == 2
    assert "Invalid value for '--rehearse-days'" in result.output
    assert "less than or equal to 90" in result.output
