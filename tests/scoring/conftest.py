"""A small resolved synthetic retailer, built once and copied for each test that writes."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lifetide.context import Lifetide
from lifetide.identity.resolver import IdentityResolver
from lifetide.imports.service import files_in, import_file
from lifetide.scoring.profiles import sync_profiles
from lifetide.settings import load_settings
from lifetide.synth import SynthConfig, generate

SHOP_END = dt.date(2026, 10, 31)


@pytest.fixture(scope="session")
def synth_shop_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data folder of a 3,000-person retailer, imported and resolved."""
    root = tmp_path_factory.mktemp("synth-shop")
    generate(SynthConfig(customers=3_000, seed=11, end=SHOP_END), root / "files")
    settings = load_settings(data_dir=root / "data", env="test")
    with Lifetide(settings) as app:
        for table, path in files_in(root / "files"):
            import_file(app.warehouse, table, path)
        IdentityResolver(app.warehouse, app.sessions, app.clock, probabilistic=False).run()
        with app.sessions() as session:
            sync_profiles(session, app.warehouse)
    return root / "data"


@pytest.fixture
def synth_shop(synth_shop_dir: Path, tmp_path: Path) -> Iterator[Lifetide]:
    """A private copy of the resolved retailer, free to write to."""
    data = tmp_path / "shop"
    shutil.copytree(synth_shop_dir, data)
    with Lifetide(load_settings(data_dir=data, env="test")) as app:
        yield app
