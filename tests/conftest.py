"""Shared fixtures: isolated settings, the embedded stores, and PostgreSQL when present."""

from __future__ import annotations

import os

# Before anything loads numpy: see lifetide/__init__.py.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import datetime as dt
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from lifetide.context import Lifetide
from lifetide.ops.database import create_ops_engine, upgrade
from lifetide.settings import Settings, load_settings
from lifetide.warehouse.connection import Warehouse

POSTGRES_ENV = "LIFETIDE_TEST_POSTGRES_URL"
ON_CI = os.environ.get("CI", "").lower() == "true"
# The last day of the synthetic retailer `synth_shop_dir` builds.
SHOP_END = dt.date(2026, 10, 31)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep a developer's own LIFETIDE_* settings and lifetide.toml out of the tests."""
    for name in list(os.environ):
        if name.startswith("LIFETIDE_") and name != POSTGRES_ENV:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose stores live in this test's own folder.

    Journey e-mails are built in the dispatcher's process (spawning a builder costs a second
    per dispatcher); the end-to-end and crash tests use the builder process, the default. No
    one is held out of marketing: tests of holdouts ask for them.
    """
    return load_settings(
        data_dir=tmp_path / "data", env="test", render_processes=0, global_holdout_percent=0
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[Lifetide]:
    """A wired Lifetide on embedded stores."""
    with Lifetide(settings) as lifetide:
        yield lifetide


@pytest.fixture(scope="session")
def synth_shop_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data folder of a 3,000-person retailer, imported and resolved; built once a run.

    Shared by the scoring, CLI and browser tests; copy it before writing to it.
    """
    # Imported here: most test runs never build the shop and need not load all of this.
    from lifetide.identity.resolver import IdentityResolver
    from lifetide.imports.service import files_in, import_file
    from lifetide.scoring.profiles import sync_profiles
    from lifetide.synth import SynthConfig, generate

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


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Warehouse]:
    """An empty DuckDB warehouse with every table."""
    with Warehouse(f"duckdb://{tmp_path / 'warehouse.duckdb'}") as wh:
        wh.ensure_tables()
        yield wh


def _postgres_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        return None
    try:
        engine = create_engine(url)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as err:
        if ON_CI:
            raise RuntimeError(f"{POSTGRES_ENV}={url} is not reachable under CI: {err}") from err
        return None
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test PostgreSQL server; skipped where there is none, a failure under CI=true."""
    url = _postgres_url()
    if url is None:
        if ON_CI:
            pytest.fail(f"CI=true but {POSTGRES_ENV} is not set: PostgreSQL tests must run on CI")
        pytest.skip(f"no PostgreSQL: set {POSTGRES_ENV} to run these tests")
    return url


@pytest.fixture
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    """An engine on a schema of its own, dropped afterwards, so tests cannot collide."""
    schema = f"lt_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_ops_engine(postgres_url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a new SQLite file."""
    engine = create_ops_engine(f"sqlite:///{tmp_path / 'ops.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """A migrated operational database, once on SQLite and once on PostgreSQL."""
    name = "sqlite_engine" if request.param == "sqlite" else "postgres_engine"
    engine: Engine = request.getfixturevalue(name)
    upgrade(engine)
    return engine


@pytest.fixture
def studio_users(app: Lifetide) -> dict[str, tuple[str, str]]:
    """One Studio user per role with a known password: role -> (email, password)."""
    from lifetide.accounts.roles import ROLES
    from lifetide.accounts.service import accounts_for

    accounts = accounts_for(app)
    users: dict[str, tuple[str, str]] = {}
    for role in ROLES:
        email, password = f"{role}@example.com", f"{role}-password-1"
        accounts.create_user(email, password, role, name=role.title())
        users[role] = (email, password)
    return users
