"""Timing a command as its own process: wall time and peak resident memory."""

from __future__ import annotations

import os
import subprocess
import sys
import time


def run(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run `argv` to completion; its wall time in seconds and peak RSS in GiB (from wait4)."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(argv)} failed with status {status}")
    return {"seconds": round(seconds, 1), "peak_rss_gib": round(usage.ru_maxrss / 1024**2, 2)}


def synth_command(lifetide: str, customers: int, seed: int, out: object) -> list[str]:
    """The `lifetide synth` command line that generates a retailer into `out`."""
    return [
        lifetide,
        "synth",
        "--customers",
        str(customers),
        "--seed",
        str(seed),
        "--out",
        str(out),
    ]
