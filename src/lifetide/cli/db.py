"""`lifetide db`: the operational database's schema."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy import Engine

from lifetide.cli.state import console, state_of
from lifetide.ops.database import (
    create_ops_engine,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)

db_app = typer.Typer(help="Manage the operational database's schema (Alembic migrations).")


@contextmanager
def _engine(ctx: typer.Context) -> Iterator[Engine]:
    # No auto-migration here: these commands are how a migration is chosen by hand.
    engine = create_ops_engine(state_of(ctx).settings().resolved_database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@db_app.command("upgrade")
def db_upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Migrate the operational database up to a revision (default: the latest)."""
    with _engine(ctx) as engine:
        upgrade(engine, revision)
        console.print(f"operational database at revision {current_revision(engine)}")


@db_app.command("downgrade")
def db_downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision; 'base' removes every table.")],
) -> None:
    """Migrate the operational database down to a revision."""
    with _engine(ctx) as engine:
        downgrade(engine, revision)
        console.print(f"operational database at revision {current_revision(engine) or 'base'}")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Show the operational database's revision and the latest one available."""
    with _engine(ctx) as engine:
        current = current_revision(engine) or "base (empty)"
    console.print(f"current: {current}; latest: {head_revision()}")
