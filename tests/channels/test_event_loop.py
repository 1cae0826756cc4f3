from __future__ import annotations

import asyncio
import sys

import pytest

from lifetide.channels.event_loop import new_event_loop


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop does not run on Windows")
def test_the_dispatchers_loop_is_uvloop_where_it_is_installed() -> None:
    uvloop = pytest.importorskip("uvloop")
    loop = new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
        assert loop.run_until_complete(asyncio.sleep(0, "ran")) == "ran"
    finally:
        loop.close()


def test_without_uvloop_the_standard_loop_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lifetide.channels.event_loop.uvloop", None)
    loop = new_event_loop()
    try:
        assert isinstance(loop, asyncio.BaseEventLoop)  # uvloop.Loop is not one
    finally:
        loop.close()
