"""Progress bars for long commands (rich)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from lifetide.cli.state import console


def new_progress() -> Progress:
    """A progress display with a bar, counts and elapsed time."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@contextmanager
def stage_bars() -> Iterator[Callable[[str, int, int], None]]:
    """A callback (stage, done, total) that keeps one bar per stage up to date."""
    tasks: dict[str, TaskID] = {}
    with new_progress() as progress:

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        yield update
