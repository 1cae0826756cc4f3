"""`lifetide segment ...`: saved segments from the command line: list, show, count, refresh."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.table import Table as RichTable

from lifetide.cli.state import console, fail, state_of
from lifetide.segments.service import (
    SegmentError,
    SegmentNotFound,
    SegmentService,
    SegmentSummary,
)
from lifetide.segments.validate import InvalidDefinition

segment_app = typer.Typer(help="Saved segments: list, show, count, create, refresh, changes.")

FileOption = Annotated[
    Path,
    typer.Option(
        "--file",
        "-f",
        exists=True,
        dir_okay=False,
        readable=True,
        help='A JSON definition: {"root": {"type": "group", ...}}.',
    ),
]


def _definition(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        fail(f"{path} is not JSON: {err}")


def _refused(err: Exception) -> NoReturn:
    if isinstance(err, InvalidDefinition):
        lines = [
            f"  {'.'.join(str(p) for p in problem.loc)}: {problem.message}"
            for problem in err.problems
        ]
        fail("the definition does not fit:\n" + "\n".join(lines))
    fail(str(err))


REFUSED = (InvalidDefinition, SegmentError, SegmentNotFound)


def _when(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value is not None else "-"


def _size(value: int | None) -> str:
    return f"{value:,}" if value is not None else "-"


@segment_app.command("list")
def segment_list(ctx: typer.Context) -> None:
    """List the active segments with their size and last refresh."""
    with state_of(ctx).lifetide() as app:
        segments = SegmentService(app).list()
    table = RichTable(title="Segments")
    for col in ("id", "name", "kind", "size", "refreshed", "every", "version", "owner"):
        table.add_column(col)
    for s in segments:
        table.add_row(*_row(s))
    console.print(table)
    if not segments:
        console.print("no segments yet: `lifetide segment create NAME --file definition.json`")


def _row(s: SegmentSummary) -> list[str]:
    every = f"{s.refresh_minutes} min" if s.refresh_minutes else "on demand"
    return [
        str(s.id),
        s.name,
        s.kind,
        _size(s.size),
        _when(s.last_refreshed_at),
        every if s.kind == "rules" else "-",
        str(s.version),
        s.owner_email or "-",
    ]


@segment_app.command("show")
def segment_show(
    ctx: typer.Context, segment_id: Annotated[int, typer.Argument(help="The segment's id.")]
) -> None:
    """Show a segment: its sentence, definition and latest refreshes."""
    with state_of(ctx).lifetide() as app:
        try:
            s = SegmentService(app).get(segment_id)
        except REFUSED as err:
            _refused(err)
    console.rule(f"Segment {s.id}: {s.name} (version {s.version})")
    console.print(s.sentence, highlight=False)
    if s.description:
        console.print(s.description, highlight=False)
    console.print(
        f"size {_size(s.size)}  refreshed {_when(s.last_refreshed_at)}  "
        f"owner {s.owner_email or '-'}",
        highlight=False,
    )
    if s.definition is not None:
        console.print_json(json.dumps(s.definition))
    table = RichTable(title="Latest refreshes")
    for col in ("id", "trigger", "started", "size", "entered", "exited", "error"):
        table.add_column(col)
    for r in s.refreshes:
        table.add_row(
            str(r.id),
            r.trigger,
            _when(r.started_at),
            _size(r.size),
            _size(r.entered),
            _size(r.exited),
            r.error or "",
        )
    console.print(table)


@segment_app.command("count")
def segment_count(ctx: typer.Context, file: FileOption) -> None:
    """Count the profiles a definition matches now, and say it in English."""
    definition = _definition(file)
    with state_of(ctx).lifetide() as app:
        try:
            result = SegmentService(app).count(definition)
        except REFUSED as err:
            _refused(err)
    console.print(
        f"{result.count:,} of {result.total:,} profiles ({result.share:.1%}) "
        f"in {result.seconds:.2f} s",
        highlight=False,
    )
    console.print(result.description, highlight=False)


@segment_app.command("create")
def segment_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A unique name.")],
    file: FileOption,
    description: Annotated[str | None, typer.Option(help="What the segment is for.")] = None,
    refresh_minutes: Annotated[
        int, typer.Option(min=0, max=43_200, help="Minutes between refreshes; 0: on demand.")
    ] = 60,
) -> None:
    """Save a segment from a JSON definition and compute its members."""
    definition = _definition(file)
    with state_of(ctx).lifetide() as app:
        try:
            s = SegmentService(app).create(
                name, definition, None, description, refresh_minutes or None
            )
        except REFUSED as err:
            _refused(err)
    latest = s.refreshes[0] if s.refreshes else None
    if latest is not None and latest.error:
        fail(f"segment {s.id} {s.name!r} saved, but its refresh failed: {latest.error}")
    console.print(f"segment {s.id} {s.name!r} saved: {_size(s.size)} profiles", highlight=False)
    console.print(s.sentence, highlight=False)


@segment_app.command("refresh")
def segment_refresh(
    ctx: typer.Context,
    segment_id: Annotated[int | None, typer.Argument(help="The segment's id.")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Refresh every active rules segment.")
    ] = False,
) -> None:
    """Recompute members of one segment (or --all) and report who entered and exited."""
    if (segment_id is None) == (not all_):
        fail("give a segment id or --all (not both)", 2)
    failures = 0
    with state_of(ctx).lifetide() as app:
        service = SegmentService(app)
        if segment_id is not None:
            ids = [segment_id]
        else:
            ids = [s.id for s in service.list() if s.kind == "rules"]
        for sid in ids:
            try:
                r = service.refresh(sid, "manual", None)
            except REFUSED as err:
                _refused(err)
            if r.error:
                failures += 1
                console.print(f"segment {sid}: failed, members unchanged: {r.error}")
            else:
                console.print(
                    f"segment {sid}: {_size(r.size)} members, {r.entered:,} entered, "
                    f"{r.exited:,} exited ({r.seconds:.2f} s)",
                    highlight=False,
                )
    if not ids:
        console.print("no rules segments to refresh")
    if failures:
        raise typer.Exit(1)


@segment_app.command("changes")
def segment_changes(
    ctx: typer.Context,
    segment_id: Annotated[int, typer.Argument(help="The segment's id.")],
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many to show.")] = 50,
) -> None:
    """Show who entered and exited a segment, newest first."""
    with state_of(ctx).lifetide() as app:
        try:
            found = SegmentService(app).changes(segment_id, limit=limit)
        except REFUSED as err:
            _refused(err)
    table = RichTable(title=f"Changes of segment {segment_id}")
    for col in ("when", "profile", "change", "refresh"):
        table.add_column(col)
    for c in found:
        table.add_row(_when(c.changed_at), str(c.profile_id), c.change, str(c.refresh_id))
    console.print(table)
