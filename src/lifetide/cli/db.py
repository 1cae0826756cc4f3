"""`lifetide db`: the operational database's schema."""

from __future__ import annotations

from typing import Annotated

import typer

from lifetide.cli.state import console, state_of
from lifetide.ops.database import (
    create_ops_engine,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)

db_app = typer.Typer(help="Manage the operational database's schema (Alembic migrations).")


@db_app.command("upgrade")
def db_upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Migrate the operational database up to a revision (default: the latest)."""
    settings = state_of(ctx).settings()
    engine = create_ops_engine(settings.resolved_database_url)
    upgrade(engine, revision)
    console.print(f"operational database at revision {current_revision(engine)}")
    engine.dispose()


@db_app.command("downgrade")
def db_downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision; 'base' removes every table.")],
) -> None:
    """Migrate the operational database down to a revision."""
    settings = state_of(ctx).settings()
    engine = create_ops_engine(settings.resolved_database_url)
    downgrade(engine, revision)
    console.print(f"operational database at revision {current_revision(engine) or 'base'}")
    engine.dispose()


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Show the operational database's revision and the latest one available."""
    settings = state_of(ctx).settings()
    engine = create_ops_engine(settings.resolved_database_url)
    console.print(
        f"current: {current_revision(engine) or 'base (empty)'}; latest: {head_revision()}"
    )
    engine.dispose()
