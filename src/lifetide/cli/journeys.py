"""`lifetide journey ...`: journeys from the command line: list, show, create, start, stop."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.table import Table as RichTable

from lifetide.cli.state import console, fail, state_of
from lifetide.context import Lifetide
from lifetide.journeys.bundles import (
    UnknownSegment,
    install_bundled,
    install_bundled_segments,
    install_bundled_templates,
    resolve_segments,
)
from lifetide.journeys.definition import (
    AbsenceTrigger,
    Branch,
    DateTrigger,
    EventTrigger,
    Exit,
    Journey,
    Offer,
    Send,
    Split,
    Step,
    Trigger,
    UpdateProfile,
    Wait,
    WaitForEvent,
)
from lifetide.journeys.files import JourneyFileError, load_journey
from lifetide.journeys.stats import JourneyCounts, journey_counts, step_order
from lifetide.journeys.store import ACTIONS, JourneyError, JourneyNotFound, JourneyStore
from lifetide.messaging.template_store import TemplateStore
from lifetide.ops.models import JourneyRecord
from lifetide.segments.describe import describe
from lifetide.segments.fields import OPERATOR_LABELS, Catalog
from lifetide.segments.rules import Definition, EventSpec
from lifetide.segments.service import SegmentService
from lifetide.segments.validate import check

journey_app = typer.Typer(
    help="Journeys: list, show, create, update, validate, start, pause, stop, install-bundled."
)

FileArgument = Annotated[
    Path,
    typer.Argument(exists=True, dir_okay=False, readable=True, help="A journey in YAML or JSON."),
]
IdArgument = Annotated[int, typer.Argument(help="The journey's id.")]


class StatusChoice(StrEnum):
    """The statuses a journey can be in (see lifetide.journeys.store)."""

    draft = "draft"
    live = "live"
    paused = "paused"
    stopped = "stopped"


def _store(app: Lifetide) -> JourneyStore:
    return JourneyStore(app.sessions, app.clock)


def _record(app: Lifetide, journey_id: int) -> JourneyRecord:
    try:
        return _store(app).get(journey_id)
    except JourneyNotFound as err:
        fail(str(err))


def _refused(path: Path, err: Exception) -> NoReturn:
    # Errors of a file already name it; those found later get its name here.
    message = str(err)
    fail(message if isinstance(err, JourneyFileError) else f"{path.name}: {message}")


def _checked(app: Lifetide, path: Path) -> Journey:
    """The journey in `path`, its segments resolved and its branch conditions checked."""
    service = SegmentService(app)
    names = service.store.names()
    try:
        journey = load_journey(path)
        resolved = resolve_segments(journey, names)
    except (JourneyFileError, UnknownSegment) as err:
        _refused(path, err)
    catalog = service.catalog()
    for step_id, step in journey.steps.items():
        if isinstance(step, Branch):
            problems = check(Definition(root=step.condition), catalog, names)
            if problems:
                where = ".".join(str(p) for p in problems[0].loc[1:])
                place = f"steps.{step_id}.condition" + (f".{where}" if where else "")
                fail(f"{path.name}: {place}: {problems[0].message}")
    return resolved


def _missing_templates(app: Lifetide, journey: Journey) -> list[str]:
    named = {s.template for s in journey.steps.values() if isinstance(s, Send)}
    found = TemplateStore(app.sessions, app.clock).get_many(named)
    return sorted(named - set(found))


# -- reading ------------------------------------------------------------------------------


@journey_app.command("list")
def journey_list(
    ctx: typer.Context,
    status: Annotated[
        StatusChoice | None, typer.Option(help="Only journeys in this status.")
    ] = None,
) -> None:
    """List the journeys with their status, version and customers in them now."""
    with state_of(ctx).lifetide() as app:
        store = _store(app)
        records = store.list(None if status is None else status.value)
        counts = journey_counts(app.sessions, app.clock.now(), [r.id for r in records])
        names = SegmentService(app).store.names(archived=True)
        triggers = {r.id: store.definition_of(r.id, r.version).trigger for r in records}
    table = RichTable(title="Journeys")
    for col in ("id", "name", "status", "version", "trigger", "in it now", "finished", "sent"):
        table.add_column(col)
    for r in records:
        c = counts.get(r.id) or JourneyCounts(r.id)
        table.add_row(
            str(r.id),
            r.name,
            r.status,
            str(r.version),
            _trigger(triggers[r.id], names),
            f"{c.in_flight:,}",
            f"{c.done:,}",
            f"{c.sends.by_status.get('sent', 0):,}",
        )
    console.print(table)
    if not records:
        console.print(
            "no journeys yet: `lifetide journey install-bundled` or `lifetide journey create FILE`"
        )


@journey_app.command("show")
def journey_show(
    ctx: typer.Context,
    journey_id: IdArgument,
    version: Annotated[
        int | None, typer.Option(min=1, help="Show this version (default: the current one).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the definition as JSON instead.")
    ] = False,
) -> None:
    """Show a journey as a readable graph: its trigger, each step with live counts, its goal."""
    with state_of(ctx).lifetide() as app:
        record = _record(app, journey_id)
        try:
            journey = _store(app).definition_of(journey_id, version or record.version)
        except JourneyNotFound as err:
            fail(str(err))
        if as_json:
            console.print_json(journey.model_dump_json())
            return
        service = SegmentService(app)
        names = service.store.names(archived=True)
        catalog = service.catalog()
        counts = journey_counts(app.sessions, app.clock.now(), [journey_id]).get(
            journey_id
        ) or JourneyCounts(journey_id)
    shown = version or record.version
    console.rule(f"Journey {record.id}: {record.name} ({record.status}, version {shown})")
    if shown != record.version:
        console.print(f"(the current version is {record.version})", highlight=False)
    console.print(f"Starts {_trigger(journey.trigger, names)}.", highlight=False)
    console.print(f"First step: {journey.start}", highlight=False)
    table = RichTable(title="Steps")
    for col in ("step", "what happens", "here now", "ended here", "sent"):
        table.add_column(col)
    order = step_order(journey)
    # Customers on an older version may be at a step this one no longer has.
    for step_id in [*order, *(s for s in counts.steps if s not in set(order))]:
        here = counts.step(step_id)
        step = journey.steps.get(step_id)
        table.add_row(
            step_id,
            "(a step of an older version)" if step is None else _step(step, catalog, names),
            f"{here.here:,}",
            f"{here.done:,}",
            f"{here.sends.by_status.get('sent', 0):,}",
        )
    console.print(table)
    if journey.goal is not None:
        days = journey.goal.within_days
        console.print(
            f"Goal: {_event(journey.goal.event)} within {days} day{'s' if days != 1 else ''} "
            "ends the journey wherever the customer is.",
            highlight=False,
        )
    reentry = journey.reentry
    days_again = reentry.days or 0
    again = (
        "never"
        if reentry.kind == "never"
        else f"after {days_again} day{'s' if days_again != 1 else ''}"
    )
    console.print(f"Re-entry: {again}.", highlight=False)
    outcomes = ", ".join(f"{n:,} {k}" for k, n in sorted(counts.outcomes.items())) or "none yet"
    console.print(
        f"In it now: {counts.in_flight:,}. Finished: {outcomes}. "
        f"Sent: {counts.sends.by_status.get('sent', 0):,}, opened {counts.sends.opened:,}, "
        f"clicked {counts.sends.clicked:,}.",
        highlight=False,
    )


# -- writing ------------------------------------------------------------------------------


@journey_app.command("validate")
def journey_validate(ctx: typer.Context, file: FileArgument) -> None:
    """Check a journey file: its shape, its graph, its segments and branch conditions."""
    with state_of(ctx).lifetide() as app:
        journey = _checked(app, file)
        names = SegmentService(app).store.names()
        missing = _missing_templates(app, journey)
    steps = len(journey.steps)
    console.print(
        f"{file.name}: journey {journey.name!r} is valid: {steps} step{'s' if steps != 1 else ''}, "
        f"starts {_trigger(journey.trigger, names)}",
        highlight=False,
    )
    if missing:
        # Not an error: templates can be written after the journey, but before it starts.
        console.print(
            f"note: it sends templates that do not exist yet: {', '.join(missing)}",
            highlight=False,
        )


@journey_app.command("create")
def journey_create(ctx: typer.Context, file: FileArgument) -> None:
    """Save a new journey from a YAML or JSON file, as a draft."""
    with state_of(ctx).lifetide() as app:
        journey = _checked(app, file)
        try:
            record = _store(app).create(journey.name, journey, None)
        except JourneyError as err:
            _refused(file, err)
    console.print(
        f"journey {record.id} {record.name!r} saved as a draft (version 1); "
        f"start it with `lifetide journey start {record.id}`",
        highlight=False,
    )


@journey_app.command("update")
def journey_update(ctx: typer.Context, journey_id: IdArgument, file: FileArgument) -> None:
    """Save a new version of a journey from a file; running customers stay on theirs."""
    with state_of(ctx).lifetide() as app:
        record = _record(app, journey_id)
        journey = _checked(app, file)
        if " ".join(journey.name.split()).lower() != record.name.lower():
            fail(
                f"{file.name}: name: the file names the journey {journey.name!r}, but journey "
                f"{journey_id} is {record.name!r}; update does not rename journeys"
            )
        try:
            updated = _store(app).update(journey_id, journey, None)
        except (JourneyError, JourneyNotFound) as err:
            _refused(file, err)
    if updated.version == record.version:
        console.print(
            f"journey {journey_id} {record.name!r} is unchanged (version {record.version})",
            highlight=False,
        )
    else:
        console.print(
            f"journey {journey_id} {record.name!r}: version {updated.version} saved; customers "
            f"already in it stay on version {record.version}",
            highlight=False,
        )


def _move(ctx: typer.Context, journey_id: int, command: str) -> None:
    _, target = ACTIONS[command]
    with state_of(ctx).lifetide() as app:
        record = _record(app, journey_id)
        if record.status == target:
            console.print(f"journey {journey_id} {record.name!r} is already {target}")
            return
        if target == "live":
            definition = _store(app).definition_of(journey_id, record.version)
            try:
                resolve_segments(definition, SegmentService(app).store.names())
            except UnknownSegment as err:
                fail(f"journey {journey_id} {record.name!r} cannot start: {err}")
            missing = _missing_templates(app, definition)
            if missing:
                fail(
                    f"journey {journey_id} {record.name!r} cannot start: it sends templates "
                    f"that do not exist: {', '.join(missing)}"
                )
        try:
            _store(app).transition(journey_id, command)
        except JourneyError as err:
            fail(f"journey {record.name!r}: {err}")
    console.print(f"journey {journey_id} {record.name!r} is {target}", highlight=False)


@journey_app.command("start")
def journey_start(ctx: typer.Context, journey_id: IdArgument) -> None:
    """Make a journey live: customers enter it when its trigger fires."""
    _move(ctx, journey_id, "start")


@journey_app.command("pause")
def journey_pause(ctx: typer.Context, journey_id: IdArgument) -> None:
    """Pause a live journey: no one enters, customers in it wait where they are."""
    _move(ctx, journey_id, "pause")


@journey_app.command("stop")
def journey_stop(ctx: typer.Context, journey_id: IdArgument) -> None:
    """Stop a journey for good: no one enters and customers in it leave."""
    _move(ctx, journey_id, "stop")


@journey_app.command("install-bundled")
def journey_install_bundled(
    ctx: typer.Context,
    owner: Annotated[
        str | None, typer.Option(help="E-mail of the Studio user who will own them.")
    ] = None,
) -> None:
    """Install the bundled templates, segments and journeys (as drafts) not there yet."""
    from lifetide.accounts.service import accounts_for

    problems = 0
    with state_of(ctx).lifetide() as app:
        owner_id = None
        if owner is not None:
            user = accounts_for(app).user_by_email(owner)
            if user is None:
                fail(f"--owner: there is no user {owner!r}", 2)
            owner_id = user.id
        added = install_bundled_templates(app)
        console.print(
            f"templates: {len(added)} installed" + (f" ({', '.join(added)})" if added else ""),
            highlight=False,
        )
        for s in install_bundled_segments(app, owner_id):
            if s.problem is not None:
                problems += 1
                console.print(f"segment {s.name!r}: not installed: {s.problem}", highlight=False)
            elif s.created:
                size = f"{s.size:,}" if s.size is not None else "?"
                console.print(
                    f"segment {s.segment_id} {s.name!r}: installed ({size} members)",
                    highlight=False,
                )
            else:
                console.print(f"segment {s.segment_id} {s.name!r}: there already", highlight=False)
        for j in install_bundled(app, owner_id):
            if j.problem is not None:
                problems += 1
                console.print(f"journey {j.name!r}: not installed: {j.problem}", highlight=False)
            elif j.created:
                console.print(f"journey {j.journey_id} {j.name!r}: installed as a draft")
            else:
                console.print(
                    f"journey {j.journey_id} {j.name!r}: there already ({j.status})",
                    highlight=False,
                )
    if problems:
        raise typer.Exit(1)


# -- sentences ----------------------------------------------------------------------------


def _duration(minutes: int) -> str:
    for size, unit in ((1440, "day"), (60, "hour")):
        if minutes % size == 0:
            n = minutes // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _event(spec: EventSpec) -> str:
    text = f"\u201c{spec.event}\u201d"
    if spec.where:
        parts = [f"{w.property} {OPERATOR_LABELS.get(w.op, w.op)} {w.value}" for w in spec.where]
        text += " where " + " and ".join(parts)
    return text


def _trigger(trigger: Trigger, names: dict[int, str]) -> str:
    if isinstance(trigger, EventTrigger):
        text = f"on {_event(trigger.event)}"
        if trigger.key:
            text += f", one journey per {trigger.key}"
        if trigger.ends_on is not None:
            same = f" with the same {trigger.key}" if trigger.key else ""
            text += f"; {_event(trigger.ends_on)}{same} ends it"
        return text
    if isinstance(trigger, AbsenceTrigger):
        return (
            f"on {_event(trigger.did)} not followed by {_event(trigger.not_followed_by)} "
            f"within {_duration(trigger.within_minutes)}"
        )
    if isinstance(trigger, DateTrigger):
        days = abs(trigger.offset_days)
        when = (
            "on"
            if not days
            else f"{days} day{'s' if days != 1 else ''} "
            + ("before" if trigger.offset_days < 0 else "after")
        )
        what = "predicted" if trigger.source == "prediction" else "profile"
        yearly = ", every year" if trigger.yearly else ""
        return f"{when} the customer's {what} date {trigger.field}{yearly}"
    if trigger.segment_id is not None:
        name = names.get(trigger.segment_id, "(missing)")
        segment = f"segment {trigger.segment_id} \u201c{name}\u201d"
    else:
        segment = f"segment \u201c{trigger.segment}\u201d"
    return f"when a customer {'enters' if trigger.on == 'entered' else 'leaves'} {segment}"


def _offer(offer: Offer | None) -> str:
    if offer is None:
        return ""
    valid = f"valid {offer.valid_days} day{'s' if offer.valid_days != 1 else ''}"
    if offer.kind == "free_shipping":
        return f" with free shipping ({valid})"
    value = f"{offer.value:g}"
    amount = f"{value}% off" if offer.kind == "percent_off" else f"{value} off"
    return f" with {amount} ({valid})"


def _then(target: str) -> str:
    return "end" if target == "exit" else target


def _step(step: Step, catalog: Catalog, names: dict[int, str]) -> str:
    if isinstance(step, Wait):
        if step.minutes is not None:
            return f"wait {_duration(step.minutes)}, then {_then(step.next)}"
        at = step.until_local_time.strftime("%H:%M") if step.until_local_time else "?"
        return f"wait until {at} in the customer's time zone, then {_then(step.next)}"
    if isinstance(step, WaitForEvent):
        return (
            f"wait up to {_duration(step.timeout_minutes)} for {_event(step.event)}: if it "
            f"comes, {_then(step.on_event)}; if not, {_then(step.on_timeout)}"
        )
    if isinstance(step, Branch):
        who = describe(step.condition, catalog, names).rstrip(".")
        return f"{who}: {_then(step.yes)}; everyone else: {_then(step.no)}"
    if isinstance(step, Split):
        total = sum(p.weight for p in step.paths)
        paths = [
            f"{p.weight / total:.0%}{' ' + p.label if p.label else ''} to {_then(p.next)}"
            for p in step.paths
        ]
        return "split at random (the same for a customer every time): " + ", ".join(paths)
    if isinstance(step, Send):
        kind = "" if step.marketing else " (transactional)"
        text = f"send {step.channel}{kind} \u201c{step.template}\u201d{_offer(step.offer)}"
        if step.fallback is not None:
            text += f"; if they cannot get it, {_then(step.fallback)}"
        return f"{text}; then {_then(step.next)}"
    if isinstance(step, UpdateProfile):
        traits = ", ".join(f"{k} = {json.dumps(v)}" for k, v in step.traits.items())
        return f"set {traits} on the profile, then {_then(step.next)}"
    assert isinstance(step, Exit)
    return "end"
