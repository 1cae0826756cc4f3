"""`lifetide identity ...` and `lifetide profile`, as a user runs them."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from lifetide.cli.app import app
from tests.identity.test_devices import CUSTOMERS, EVENTS
from tests.imports.conftest import write_csv

runner = CliRunner()


def _load(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    write_csv(folder / "customers.csv", CUSTOMERS)
    write_csv(folder / "events.csv", EVENTS)
    assert runner.invoke(app, ["import", "all", str(folder)]).exit_code == 0


def test_resolve_then_look_at_a_profile(tmp_path: Path) -> None:
    _load(tmp_path)
    result = runner.invoke(app, ["identity", "resolve", "--exact-only"])
    assert result.exit_code == 0, result.output
    assert "3 customer records -> 2 profiles" in result.stdout
    assert "1 shared-device conflicts" in result.stdout
    shown = runner.invoke(app, ["profile", "Ana@Example.com"])
    assert shown.exit_code == 0, shown.output
    for words in (
        "Ana Silva",
        "U1",
        "C9",
        "shared-tablet",
        "shared email",
        "Consents",
        "Recent events",
    ):
        assert words in shown.stdout, words
    assert runner.invoke(app, ["identity", "reviews"]).exit_code == 0


def test_unmerge_then_resolve_keeps_records_apart(tmp_path: Path) -> None:
    _load(tmp_path)
    runner.invoke(app, ["identity", "resolve", "--exact-only"])
    shown = runner.invoke(app, ["profile", "U1"]).stdout
    merge_id = next(line.split()[1] for line in shown.splitlines() if "shared email" in line)
    undone = runner.invoke(app, ["identity", "unmerge", merge_id, "--who", "ops@shop"])
    assert undone.exit_code == 0 and "undone" in undone.stdout
    again = runner.invoke(app, ["identity", "resolve", "--exact-only"])
    assert "3 customer records -> 3 profiles" in again.stdout


def test_identity_errors(tmp_path: Path) -> None:
    _load(tmp_path)
    missing = runner.invoke(app, ["profile", "nobody@nowhere.com"])
    assert missing.exit_code == 1 and "no profile has the id or identifier" in missing.stderr
    assert runner.invoke(app, ["identity", "unmerge", "999"]).exit_code == 1
    bad_review = runner.invoke(app, ["identity", "review", "999", "--merge"])
    assert bad_review.exit_code == 1 and "no review 999" in bad_review.stderr
    inverted = runner.invoke(
        app, ["identity", "resolve", "--merge-at", "0.8", "--review-at", "0.9"]
    )
    assert inverted.exit_code == 2 and "must not be above" in inverted.stderr
    assert runner.invoke(app, ["identity", "resolve", "--merge-at", "1.5"]).exit_code == 2
