"""Fixtures for saved segments: a Lifetide on a manual clock over the hand-built shop."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lifetide.clock import ManualClock
from lifetide.context import Lifetide
from lifetide.settings import Settings
from tests.segments import saved_shop


@pytest.fixture
def shop_app(settings: Settings) -> Iterator[Lifetide]:
    """A Lifetide whose warehouse holds the saved-segments shop, its clock at saved_shop.NOW."""
    with Lifetide(settings, clock=ManualClock(saved_shop.NOW)) as lifetide:
        saved_shop.build(lifetide.warehouse.backend)
        yield lifetide
