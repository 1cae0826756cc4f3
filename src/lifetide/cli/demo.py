"""`lifetide demo`: generate a retailer, import, resolve and score it, then open the Studio."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from lifetide.cli.data import import_one, print_summary
from lifetide.cli.progress import stage_bars
from lifetide.cli.state import console, fail, state_of
from lifetide.context import Lifetide
from lifetide.imports.service import files_in
from lifetide.journeys.rehearsal import Rehearsed
from lifetide.settings import Settings
from lifetide.warehouse.summary import summarize

DEMO_EMAIL = "demo@lifetide.dev"
# A known password is the point of a demo account; production refuses to create it.
DEMO_PASSWORD = "lifetide-demo"  # noqa: S105
# The bundled journeys (by file) the demo sets live, so it has something running.
DEMO_LIVE = ("cart_abandonment", "browse_abandonment", "welcome")
# Where the last rehearsal stopped (a journey cursor).
REHEARSED = "demo rehearsal"


def demo(
    ctx: typer.Context,
    customers: Annotated[int, typer.Option(min=100, help="People in the demo retailer.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed of the demo retailer.")] = 7,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Run the Studio at the end.")
    ] = True,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the Studio.")] = 8000,
    rehearse_days: Annotated[
        int,
        typer.Option(
            min=0, max=90, help="Run the live journeys over this many recent days (0: skip)."
        ),
    ] = 28,
) -> None:
    """Generate a demo retailer up to today, import, resolve and score it, open the Studio."""
    from lifetide.synth import SynthConfig, generate  # the generator pulls in numpy

    started = time.perf_counter()
    with state_of(ctx).lifetide() as app:
        if app.settings.env == "production":
            fail("the demo creates a demo account with a known password: not in production", 2)
        source = app.settings.data_dir / "synth"
        today = app.clock.now().date()
        console.rule(f"Lifetide demo: {customers:,} customers, history up to {today}")
        with stage_bars() as update:
            generate(SynthConfig(customers=customers, seed=seed, end=today), source, update)
        for table, path in files_in(source):
            if import_one(app, table, path) is None:
                raise typer.Exit(1)
        print_summary(summarize(app.warehouse))
        _resolve_and_score(app)
        _bundled_journeys(app, _demo_account(app))
        settings = app.settings
    if rehearse_days:
        _rehearse(settings, rehearse_days)
    console.print(
        f"Done in {time.perf_counter() - started:.0f} s. Data in {settings.data_dir}; "
        f"ground truth in {source / 'truth'}."
    )
    if serve:
        console.print(
            f"Studio: http://127.0.0.1:{port}/  sign in as {DEMO_EMAIL} / {DEMO_PASSWORD}",
            highlight=False,
        )
        from lifetide.cli.serve import serve as run_server

        run_server(ctx, host="127.0.0.1", port=port, worker=True)


def _rehearse(settings: Settings, days: int) -> None:
    """Run the live journeys over the last `days` days on a simulated clock (journeys.rehearsal).

    From where an earlier demo's rehearsal stopped, if later: run the demo again and the
    journeys do not live the same hours twice.
    """
    import datetime as dt

    from lifetide.clock import ManualClock, SystemClock
    from lifetide.journeys.cursors import read_cursor, write_cursor
    from lifetide.journeys.rehearsal import rehearse
    from lifetide.ops.database import transaction

    end = SystemClock().now()
    start = (end - dt.timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    clock = ManualClock(start)
    with Lifetide(settings, clock=clock) as sim:
        with sim.sessions() as session:
            stopped = read_cursor(session, REHEARSED)
        if stopped is not None:
            start = max(start, dt.datetime.fromisoformat(stopped))
        if end - start < dt.timedelta(hours=1):
            console.print("journeys already run up to now by an earlier demo")
            return
        clock.set(start)
        with console.status("running the journeys") as status:

            def report(at: dt.datetime, done: Rehearsed) -> None:
                status.update(
                    f"running the journeys: {at:%b %-d %H:00}, {done.sent:,} e-mails sent, "
                    f"{done.opened:,} journeys entered"
                )

            done = rehearse(sim, clock, end, on_hour=report)
        with transaction(sim.sessions) as session:
            write_cursor(session, REHEARSED, end.isoformat(), end)
    console.print(
        f"journeys run from {start:%b %-d %H:%M} UTC to now: {done.events:,} events, "
        f"{done.opened:,} entries, {done.sent:,} e-mails sent, {done.opens:,} opens, "
        f"{done.clicks:,} clicks, {done.unsubscribes:,} unsubscribes (the demo audience: "
        "docs/journeys.md)"
    )


def _resolve_and_score(app: Lifetide) -> None:
    from lifetide.identity.resolver import IdentityResolver
    from lifetide.scoring.pipeline import ScoreOptions, Scorer
    from lifetide.scoring.profiles import sync_profiles

    with console.status("resolving identities") as status:
        summary = IdentityResolver(app.warehouse, app.sessions, app.clock).run(
            on_stage=lambda stage: status.update(stage)
        )
        with app.sessions() as session:
            sync_profiles(session, app.warehouse)
    console.print(f"{summary.records:,} customer records -> {summary.profiles:,} profiles")
    with console.status("scoring customers") as status:
        as_of = app.clock.now().date()
        result = Scorer(
            app, ScoreOptions(as_of=as_of), lambda stage, _done, _total: status.update(stage)
        ).run()
    console.print(f"scored {result.profiles:,} profiles as of {as_of}")


def _demo_account(app: Lifetide) -> int:
    from lifetide.accounts.service import accounts_for

    accounts = accounts_for(app)
    user = accounts.user_by_email(DEMO_EMAIL)
    if user is None:
        user = accounts.create_user(DEMO_EMAIL, DEMO_PASSWORD, "admin", name="Demo Marketer")
    console.print(f"demo account: {DEMO_EMAIL} / {DEMO_PASSWORD} (admin)", highlight=False)
    return int(user.id)


def _bundled_journeys(app: Lifetide, owner_id: int) -> None:
    """Install the bundled segments and journeys, and set some live so the demo runs them."""
    from lifetide.journeys.bundles import install_bundled
    from lifetide.journeys.store import JourneyStore

    with console.status("installing the bundled segments and journeys"):
        installed = install_bundled(app, owner_id)
    store = JourneyStore(app.sessions, app.clock)
    live: list[str] = []
    for journey in installed:
        if journey.problem is not None:
            console.print(f"journey {journey.name!r} not installed: {journey.problem}")
        elif journey.file in DEMO_LIVE and journey.journey_id is not None:
            # Only when just installed: a journey paused or stopped in the demo stays so.
            if journey.created:
                store.set_status(journey.journey_id, "live")
            if journey.created or journey.status == "live":
                live.append(journey.name)
    console.print(
        f"{len(installed)} bundled journeys; live: {', '.join(live) or 'none'}", highlight=False
    )
