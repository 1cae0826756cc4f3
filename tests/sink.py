"""The benchmark's SMTP sink (benchmarks/smtp_sink.py) started as its own process, for tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SINK = Path(__file__).resolve().parents[1] / "benchmarks" / "smtp_sink.py"


def start_sink(out: Path, *options: str) -> tuple[subprocess.Popen[str], int]:
    """Start the sink on a free port, appending to `out`; the process and its port."""
    process = subprocess.Popen(
        [sys.executable, str(SINK), "--port", "0", "--out", str(out), *options],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    ready = process.stdout.readline().split()
    if ready[:1] != ["ready"]:
        process.kill()
        raise AssertionError(f"the SMTP sink did not start: {ready}")
    return process, int(ready[1])
