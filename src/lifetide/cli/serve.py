"""`lifetide serve`, `lifetide load`, and `lifetide source`: running the API and its sources."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table as RichTable

from lifetide.cli.state import console, fail, state_of
from lifetide.collect.sources import SourceError
from lifetide.messaging.template_store import TemplateStore
from lifetide.runtime import tune_garbage_collection
from lifetide.worker import Worker

source_app = typer.Typer(help="Tracking sources and their write keys.")


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    worker: Annotated[
        bool, typer.Option("--worker/--no-worker", help="Run the background worker too.")
    ] = True,
) -> None:
    """Run the Studio, the management and tracking APIs, and the background worker."""
    import uvicorn

    from lifetide.web.app import create_app

    with state_of(ctx).lifetide() as app:
        # Journeys send bundled templates by name: make sure the missing ones are there.
        TemplateStore(app.sessions, app.clock).ensure_bundled()
        background = Worker(app) if worker else None
        if background is not None:
            background.start()
        console.print(
            f"Lifetide Studio on http://{host}:{port}/ (tracking API at /v1/batch)",
            highlight=False,
        )
        from lifetide.accounts.service import accounts_for

        if not accounts_for(app).list_users():
            console.print(
                "No Studio accounts yet: create the first admin with "
                "`lifetide user create EMAIL --role admin`",
                highlight=False,
            )
        web = create_app(app)
        tune_garbage_collection()
        try:
            uvicorn.run(web, host=host, port=port, log_level="warning")
        finally:
            if background is not None:
                background.stop()


def load(ctx: typer.Context) -> None:
    """Load everything waiting in the tracking journal into the warehouse, then stop."""
    with state_of(ctx).lifetide() as app:
        loaded = app.loader().load_all()
        console.print(f"loaded {loaded:,} message(s) into the warehouse")


@source_app.command("create")
def source_create(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="A name, e.g. 'website'.")]
) -> None:
    """Create a source and print its write key (shown only this once)."""
    with state_of(ctx).lifetide() as app:
        try:
            created = app.sources.create(name)
        except SourceError as err:
            fail(str(err))
    console.print(
        f"source {created.name!r} created; its write key (keep it, it is not shown again):"
    )
    console.print(created.write_key, highlight=False, soft_wrap=True)


@source_app.command("list")
def source_list(ctx: typer.Context) -> None:
    """List sources with the start of their keys and whether they are revoked."""
    with state_of(ctx).lifetide() as app:
        sources = app.sources.list()
    table = RichTable(title="Sources")
    for col in ("name", "key starts", "created", "revoked"):
        table.add_column(col)
    for s in sources:
        revoked = f"{s.revoked_at:%Y-%m-%d %H:%M}" if s.revoked_at else ""
        table.add_row(s.name, s.write_key_hint + "…", f"{s.created_at:%Y-%m-%d %H:%M}", revoked)
    console.print(table)


@source_app.command("revoke")
def source_revoke(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The source to revoke.")]
) -> None:
    """Revoke a source's write key: its requests get 401 within seconds."""
    with state_of(ctx).lifetide() as app:
        try:
            app.sources.revoke(name)
        except SourceError as err:
            fail(str(err))
    console.print(f"source {name!r} revoked")
