"""`lifetide score` and `lifetide report models`, as a user runs them."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from lifetide.cli.app import app
from tests.conftest import SHOP_END

runner = CliRunner()


def test_score_then_report(synth_shop_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(synth_shop_dir, tmp_path / "lifetide-data")
    as_of = SHOP_END.isoformat()
    scored = runner.invoke(app, ["score", "--as-of", as_of, "--recommendations", "5"])
    assert scored.exit_code == 0, scored.output
    assert "profiles" in scored.stdout and "buyers) as of 2026-10-31" in scored.stdout
    for figure in ("p_purchase_30d", "future_top20", "recommendations", "lifecycle"):
        assert figure in scored.stdout
    out = tmp_path / "report.html"
    reported = runner.invoke(app, ["report", "models", "--out", str(out)])
    assert reported.exit_code == 0, reported.output
    html = out.read_text()
    assert html.count("<svg") >= 6
    assert "BG/NBD" in html and "Popularity baseline" in html
    default = runner.invoke(app, ["report", "models"])
    assert default.exit_code == 0, default.output
    assert (tmp_path / "lifetide-data" / "reports" / "models.html").exists()


def test_score_needs_profiles(tmp_path: Path) -> None:
    result = runner.invoke(app, ["score", "--as-of", "2026-01-01"])
    assert result.exit_code == 1
    assert "identity resolve" in result.output


def test_score_refuses_a_future_date_and_a_bad_one(tmp_path: Path) -> None:
    result = runner.invoke(app, ["score", "--as-of", "2999-01-01"])
    assert result.exit_code == 1
    assert "in the future" in result.output
    bad = runner.invoke(app, ["score", "--as-of", "01/02/2026"])
    assert bad.exit_code == 2
    assert "--as-of" in bad.output


def test_report_before_any_score_and_on_damaged_data(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "models"])
    assert result.exit_code == 1
    assert "run `lifetide score` first" in result.output
    data = tmp_path / "lifetide-data" / "reports"
    data.mkdir(parents=True)
    (data / "models.json").write_text('{"format": 1, "report": {"__type__": "os.system"}}')
    damaged = runner.invoke(app, ["report", "models"])
    assert damaged.exit_code == 1
    assert "unknown section type 'os.system'" in damaged.output
