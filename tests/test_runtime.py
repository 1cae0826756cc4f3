"""Garbage-collector tuning for the worker, `serve` and the e-mail builder's process."""

from __future__ import annotations

import gc
import subprocess
import sys

from lifetide.messaging.builder import EmailBuilder, LinkConfig
from lifetide.runtime import GC_THRESHOLDS

PROBE = (
    "import gc; from lifetide.runtime import tune_garbage_collection as tune; "
    "before = gc.get_freeze_count(); tune(); "
    "print(gc.get_threshold(), before, gc.get_freeze_count() > 0)"
)


def test_tuning_freezes_what_is_alive_and_raises_the_thresholds() -> None:
    # In a process of its own: freezing the test runner's objects would outlive this test.
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split("\n")[0] == f"{GC_THRESHOLDS} 0 True"


def test_the_builder_process_is_tuned_and_this_one_is_not() -> None:
    mine = gc.get_threshold()
    builder = EmailBuilder("Shop <shop@lifetide.dev>", LinkConfig("https://shop.test", "s" * 32))
    try:
        builder.start()
        assert builder.ready(60)
        pool = builder._worker()  # the process e-mails are built in
        assert pool is not None
        assert pool.submit(gc.get_threshold).result(60) == GC_THRESHOLDS
        assert pool.submit(gc.get_freeze_count).result(60) > 0
    finally:
        builder.close()
    assert gc.get_threshold() == mine
