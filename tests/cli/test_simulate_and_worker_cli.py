"""`lifetide simulate` over a generated shop's events, and `lifetide worker` as a process."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from lifetide.cli.app import app

runner = CliRunner()


def test_simulate_replays_the_shops_events_through_the_bundled_journeys(
    synth_shop_dir: Path, tmp_path: Path
) -> None:
    data = tmp_path / "shop"
    shutil.copytree(synth_shop_dir, data)
    result = runner.invoke(
        app, ["--data-dir", str(data), "simulate", "--bundled", "--days", "30", "--json"]
    )
    assert result.exit_code == 0, result.output
    reports = {r["journey"]: r for r in json.loads(result.output)}
    cart = reports["Cart abandonment"]
    assert cart["simulated"] and cart["entered"] > 0
    steps = {s["step"] for s in cart["sends"]}
    assert "first_email" in steps or "first_sms" in steps
    # Nothing is stored by a simulation: the shop has no journeys afterwards.
    listed = runner.invoke(app, ["--data-dir", str(data), "journey", "list"])
    assert "Cart abandonment" not in listed.output
    assert not reports["Birthday gift"]["simulated"]


def test_simulate_says_what_is_missing(synth_shop_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "shop"
    shutil.copytree(synth_shop_dir, data)
    unknown = runner.invoke(app, ["--data-dir", str(data), "simulate", "--journey", "Nope"])
    assert unknown.exit_code == 1 and "no journey named nope" in unknown.output
    empty = runner.invoke(app, ["--data-dir", str(tmp_path / "empty"), "simulate", "--bundled"])
    assert empty.exit_code == 1 and "no events to replay" in empty.output


def test_a_worker_process_runs_until_sigterm(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-c",
        "from lifetide.cli.app import main; main()",
        "--data-dir",
        str(tmp_path / "data"),
        "worker",
        "--idle",
        "0.05",
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"LIFETIDE_ENV": "test", "PATH": "/usr/bin:/bin"},
    )
    assert process.stdout is not None
    assert "running" in process.stdout.readline()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, process.stderr.read() if process.stderr else ""
