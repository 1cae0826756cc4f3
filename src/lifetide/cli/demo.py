"""`lifetide demo`: generate a retailer, import it, and show it."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from lifetide.cli.data import import_one, print_summary
from lifetide.cli.progress import stage_bars
from lifetide.cli.state import console, state_of
from lifetide.imports.service import files_in
from lifetide.warehouse.summary import summarize


def demo(
    ctx: typer.Context,
    customers: Annotated[int, typer.Option(min=100, help="People in the demo retailer.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed of the demo retailer.")] = 7,
) -> None:
    """Generate a demo retailer up to today, import it into the embedded stores, summarize it."""
    from lifetide.synth import SynthConfig, generate  # the generator pulls in numpy

    started = time.perf_counter()
    with state_of(ctx).lifetide() as app:
        source = app.settings.data_dir / "synth"
        today = app.clock.now().date()
        console.rule(f"Lifetide demo: {customers:,} customers, history up to {today}")
        with stage_bars() as update:
            generate(SynthConfig(customers=customers, seed=seed, end=today), source, update)
        for table, path in files_in(source):
            if import_one(app, table, path) is None:
                raise typer.Exit(1)
        print_summary(summarize(app.warehouse))
        console.print(
            f"Done in {time.perf_counter() - started:.0f} s. Data in {app.settings.data_dir}; "
            f"ground truth in {source / 'truth'}."
        )
