"""A private copy of the small resolved synthetic retailer (`synth_shop_dir`, tests/conftest.py)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lifetide.context import Lifetide
from lifetide.settings import load_settings


@pytest.fixture
def synth_shop(synth_shop_dir: Path, tmp_path: Path) -> Iterator[Lifetide]:
    """A private copy of the resolved retailer, free to write to."""
    data = tmp_path / "shop"
    shutil.copytree(synth_shop_dir, data)
    with Lifetide(load_settings(data_dir=data, env="test")) as app:
        yield app
