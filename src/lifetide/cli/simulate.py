"""`lifetide simulate` and `lifetide worker`: journeys over past events, and extra workers."""

from __future__ import annotations

import datetime as dt
import json
import signal
from collections.abc import Sequence
from types import FrameType
from typing import Annotated

import typer
from rich.table import Table as RichTable

from lifetide.cli.state import console, fail, state_of
from lifetide.context import Lifetide
from lifetide.journeys.definition import AbsenceTrigger, EventTrigger, Journey
from lifetide.journeys.facts import Person, people
from lifetide.journeys.files import bundled_journeys
from lifetide.journeys.intake import listens_to
from lifetide.journeys.replay import newest_event, past_events
from lifetide.journeys.rounds import caps_of
from lifetide.journeys.simulate import JourneyReport, simulate
from lifetide.journeys.store import JourneyStore
from lifetide.runtime import tune_garbage_collection
from lifetide.worker import Worker

_CHUNK = 5000


def _journeys(app: Lifetide, names: Sequence[str], bundled: bool) -> list[Journey]:
    if bundled:
        found = list(bundled_journeys().values())
    else:
        store = JourneyStore(app.sessions, app.clock)
        found = [
            store.definition_of(j.id, j.version) for j in store.list() if j.status != "stopped"
        ] or list(bundled_journeys().values())
    if names:
        wanted = {n.casefold() for n in names}
        found = [j for j in found if j.name.casefold() in wanted]
        missing = wanted - {j.name.casefold() for j in found}
        if missing:
            fail(f"no journey named {', '.join(sorted(missing))}")
    return found


def _people(app: Lifetide, ids: Sequence[int]) -> dict[int, Person]:
    found: dict[int, Person] = {}
    with app.sessions() as session:
        for start in range(0, len(ids), _CHUNK):
            found.update(people(session, ids[start : start + _CHUNK]))
    return found


def simulate_command(
    ctx: typer.Context,
    days: Annotated[
        int, typer.Option(min=1, max=365, help="Replay the last N days of events.")
    ] = 7,
    journey: Annotated[
        list[str] | None, typer.Option("--journey", help="Only this journey (repeatable).")
    ] = None,
    bundled: Annotated[
        bool, typer.Option("--bundled", help="Simulate the bundled journeys, not the saved ones.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Replay past events through the journeys: what would have been sent, and why not."""
    with state_of(ctx).lifetide() as app:
        journeys = _journeys(app, journey or [], bundled)
        if not journeys:
            fail("no journeys to simulate: create one, or pass --bundled")
        until = newest_event(app.warehouse)
        if until is None:
            fail("the warehouse has no events to replay: run `lifetide demo` or import events")
        until += dt.timedelta(seconds=1)
        since = until - dt.timedelta(days=days)
        names: set[str] = set()
        for j in journeys:
            names |= listens_to(j)
            if isinstance(j.trigger, EventTrigger):
                names.add(j.trigger.event.event)
            if isinstance(j.trigger, AbsenceTrigger):
                names.add(j.trigger.did.event)
        events = list(past_events(app.warehouse, since, until, sorted(names)))
        persons = _people(app, sorted({e.profile_id for e in events}))
        reports = simulate(journeys, events, persons, caps_of(app), until)
    if as_json:
        console.print_json(json.dumps([_as_dict(r) for r in reports]))
        return
    console.print(
        f"Replayed {len(events):,} events from {since:%Y-%m-%d %H:%M} "
        f"to {until:%Y-%m-%d %H:%M} UTC",
        highlight=False,
    )
    for report in reports:
        _print(report)


def _as_dict(report: JourneyReport) -> dict[str, object]:
    return {
        "journey": report.name,
        "simulated": report.simulated,
        "entered": report.entered,
        "outcomes": dict(report.outcomes),
        "sends": [
            {"step": step, "channel": channel, **dict(verdicts)}
            for (step, channel), verdicts in report.sends.items()
        ],
        "deferred_because": {r: n for (v, r), n in report.reasons.most_common() if v == "defer"},
        "skipped_because": {r: n for (v, r), n in report.reasons.most_common() if v == "skip"},
        "conversions": report.conversions,
        "revenue": round(report.revenue, 2),
    }


def _print(report: JourneyReport) -> None:
    if not report.simulated:
        console.print(
            f"\n[bold]{report.name}[/bold]: not simulated (segment and date triggers need "
            "the state of their day)"
        )
        return
    console.print(
        f"\n[bold]{report.name}[/bold]: {report.entered:,} entered, "
        f"{report.conversions:,} reached the goal ({report.revenue:,.2f} revenue)"
    )
    table = RichTable("step", "channel", "would send", "deferred", "skipped")
    for (step, channel), verdicts in report.sends.items():
        table.add_row(
            step,
            channel,
            f"{verdicts['send']:,}",
            f"{verdicts['defer']:,}",
            f"{verdicts['skip']:,}",
        )
    console.print(table)
    for (verdict, reason), count in report.reasons.most_common(6):
        word = "deferred" if verdict == "defer" else "skipped"
        console.print(f"  {word} ({count:,}): {reason}", highlight=False)


def worker_command(
    ctx: typer.Context,
    journal: Annotated[
        bool,
        typer.Option(
            "--journal/--no-journal",
            help="Also load the journal and take journey events (only one process should).",
        ),
    ] = False,
    name: Annotated[
        str | None, typer.Option(help="Worker name in claims (default host:pid:random).")
    ] = None,
    idle: Annotated[
        float, typer.Option(min=0.01, max=60, help="Seconds to rest when there is no work.")
    ] = 0.5,
    lease: Annotated[
        float,
        typer.Option(
            min=1,
            max=3600,
            help="Seconds a claim holds: work of a worker that died is taken over after it.",
        ),
    ] = 120,
) -> None:
    """Run journey steps and sends (with --journal also loading) until stopped."""
    with state_of(ctx).lifetide() as app:
        worker = Worker(
            app,
            idle_seconds=idle,
            journal=journal,
            name=name,
            lease=dt.timedelta(seconds=lease),
        )

        def _stop(_signum: int, _frame: FrameType | None) -> None:
            worker.request_stop()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        tune_garbage_collection()
        console.print(f"worker {name or ''} running; Ctrl-C to stop", highlight=False)
        worker.run_forever()
