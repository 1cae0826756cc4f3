"""`lifetide experiment analyze` and `size`, as a user runs them, on files written here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_confint, proportion_effectsize
from typer.testing import CliRunner

from lifetide.cli.app import app

runner = CliRunner()


def _experiment(sizes: tuple[int, int] = (2_000, 2_000), seed: int = 3) -> pa.Table:
    """Two arms (variant 1 and 2, an integer column): 2 converts more, and spends more."""
    rng = np.random.default_rng(seed)
    variant = np.repeat([1, 2], sizes)
    bought = (rng.random(variant.size) < np.where(variant == 2, 0.09, 0.05)).astype(np.int64)
    spend = np.round(bought * rng.lognormal(3.0, 0.7, variant.size), 2)
    return pa.table({"variant": variant, "bought": bought, "spend": spend})


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "test.csv"
    pa_csv.write_csv(_experiment(), path)
    return path


def _analyze(path: Path, *options: str) -> tuple[int, str]:
    result = runner.invoke(app, ["experiment", "analyze", str(path), *options])
    return result.exit_code, result.output


def test_analyze_prints_arms_comparisons_and_verdicts(csv_file: Path) -> None:
    code, out = _analyze(csv_file, "--arm", "variant", "--control", "1", "--outcome", "bought",
                         "--outcome", "spend")  # fmt: skip
    assert code == 0, out
    table = _experiment()
    bought = table.column("bought").to_numpy()[2_000:]
    low, high = proportion_confint(bought.sum(), bought.size, method="wilson")
    assert f"{100 * bought.mean():.3f}%   [{100 * low:.3f}%, {100 * high:.3f}%]" in out
    assert "bought (rate)" in out and "spend (mean per recipient)" in out
    assert "2 wins" in out and "bootstrap" in out
    assert "no planned size given" in out and "(ok)" in out


def test_parquet_and_json_give_the_full_analysis(tmp_path: Path, csv_file: Path) -> None:
    parquet = tmp_path / "test.parquet"
    pq.write_table(_experiment(), parquet)
    options = ["--arm", "variant", "--control", "1", "--outcome", "bought", "--revenue", "spend",
               "--json"]  # fmt: skip
    code, out = _analyze(parquet, *options)
    assert code == 0, out
    data = json.loads(out)
    assert data["arms"] == ["1", "2"] and data["rows"] == 4_000
    assert [o["kind"] for o in data["outcomes"]] == ["conversion", "revenue"]
    assert data["outcomes"][0]["comparisons"][0]["verdict"]["winner"] == "2"
    assert _analyze(csv_file, *options)[1] == out


def test_planned_size_and_weights(csv_file: Path) -> None:
    base = ["--arm", "variant", "--control", "1", "--outcome", "bought"]
    code, out = _analyze(csv_file, *base, "--planned", "5000")
    assert code == 0 and "not enough data" in out and "not reached yet" in out
    code, out = _analyze(csv_file, *base, "--weights", "1=3,2=1")
    assert code == 0 and "MISMATCH" in out and "sample ratio mismatch" in out
    code, out = _analyze(csv_file, *base, "--weights", "1,1", "--json")
    assert json.loads(out)["sample_ratio"]["mismatch"] is False


def test_a_broken_split_is_flagged(tmp_path: Path) -> None:
    path = tmp_path / "skewed.csv"
    pa_csv.write_csv(_experiment(sizes=(2_000, 2_300)), path)
    code, out = _analyze(path, "--arm", "variant", "--control", "1", "--outcome", "bought")
    assert code == 0 and "MISMATCH" in out


def test_alpha_changes_the_interval_level(csv_file: Path) -> None:
    code, out = _analyze(csv_file, "--arm", "variant", "--control", "1", "--outcome", "bought",
                         "--alpha", "0.1", "--resamples", "500", "--seed", "4")  # fmt: skip
    assert code == 0 and "90% CI" in out and "90% intervals" in out


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--arm", "arm", "--control", "1", "--outcome", "bought"], "no column 'arm'"),
        (["--arm", "variant", "--control", "9", "--outcome", "bought"], "'9' is not among"),
        (["--arm", "variant", "--control", "1"], "at least one outcome"),
        (["--arm", "variant", "--control", "1", "--outcome", "variant"], "is the arm"),
        (["--arm", "variant", "--control", "1", "--outcome", "bought", "--weights", "1,2,3"],
         "3 weights for 2 arms"),
        (["--arm", "variant", "--control", "1", "--outcome", "bought", "--weights", "1=x,2=1"],
         "--weights"),
        (["--arm", "variant", "--control", "1", "--outcome", "bought", "--weights", "1=1,3=1"],
         "not in the data '3'"),
    ],
)  # fmt: skip
def test_bad_options_exit_1_with_the_reason(
    csv_file: Path, options: list[str], message: str
) -> None:
    code, out = _analyze(csv_file, *options)
    assert code == 1
    assert message in out


def test_bad_files_exit_1_with_the_reason(tmp_path: Path) -> None:
    text = tmp_path / "bad.csv"
    text.write_text("variant,bought\n1,0\n2,yes\n1,\n", encoding="utf-8")
    code, out = _analyze(text, "--arm", "variant", "--control", "1", "--outcome", "bought")
    assert code == 1 and "'bought' is not numeric" in out
    gap = tmp_path / "gap.csv"
    gap.write_text("variant,bought\n1,0\n2,1\n1,\n2,0\n", encoding="utf-8")
    code, out = _analyze(gap, "--arm", "variant", "--control", "1", "--outcome", "bought")
    assert code == 1 and "missing or not finite on 1 rows (first at row 3)" in out
    no_arm = tmp_path / "no_arm.csv"
    no_arm.write_text("variant,bought\nA,0\nB,1\n,1\nA,0\n", encoding="utf-8")
    code, out = _analyze(no_arm, "--arm", "variant", "--control", "A", "--outcome", "bought")
    assert code == 1 and "the arm is missing on 1 rows (first at row 3)" in out
    other = tmp_path / "data.json"
    other.write_text("{}", encoding="utf-8")
    code, out = _analyze(other, "--arm", "variant", "--control", "1", "--outcome", "bought")
    assert code == 1 and "not a CSV" in out


def test_size_matches_statsmodels() -> None:
    result = runner.invoke(app, ["experiment", "size", "--baseline", "0.1", "--mde", "0.02"])
    assert result.exit_code == 0, result.output
    n = NormalIndPower().solve_power(
        effect_size=proportion_effectsize(0.12, 0.10), alpha=0.05, power=0.8
    )
    expected = int(np.ceil(n))
    assert f"{expected:,} recipients per arm ({2 * expected:,} for 2 arms)" in result.output
    assert "10.00% changing to 12.00%" in result.output


def test_size_of_a_mean_relative_with_more_arms() -> None:
    result = runner.invoke(app, ["experiment", "size", "--baseline", "20", "--mde", "0.1",
                                 "--relative", "--sd", "40", "--arms", "3", "--power", "0.9",
                                 "--alpha", "0.01"])  # fmt: skip
    assert result.exit_code == 0, result.output
    n = int(np.ceil(NormalIndPower().solve_power(effect_size=2 / 40, alpha=0.01, power=0.9)))
    assert f"{n:,} recipients per arm ({3 * n:,} for 3 arms)" in result.output
    assert "90% power" in result.output


def test_size_refuses_an_impossible_plan() -> None:
    result = runner.invoke(app, ["experiment", "size", "--baseline", "0.9", "--mde", "0.2"])
    assert result.exit_code == 1 and "outside (0, 1)" in result.output
