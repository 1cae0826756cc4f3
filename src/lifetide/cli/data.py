"""Commands that put data in and show it: synth, import, imports, refresh-activity, summary."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table as RichTable

from lifetide.cli.progress import stage_bars
from lifetide.cli.state import console, errors, fail, state_of
from lifetide.context import Lifetide
from lifetide.imports.files import sha256_of
from lifetide.imports.log import ImportLog
from lifetide.imports.problems import ImportRejected
from lifetide.imports.service import ImportResult, files_in, import_file
from lifetide.warehouse.schema import IMPORT_ORDER
from lifetide.warehouse.summary import Summary, summarize

TABLE_HELP = f"Table to load: {', '.join(IMPORT_ORDER)}; or 'all' with a folder."


def synth(
    ctx: typer.Context,
    customers: Annotated[int, typer.Option(min=1, help="Number of people to generate.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = 0,
    end: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Last day of history (default 2026-11-01)."),
    ] = None,
    years: Annotated[float, typer.Option(min=0.25, max=10, help="Years of history.")] = 3.0,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default DATA_DIR/synth).")
    ] = None,
) -> None:
    """Generate a realistic beauty retailer as Parquet files, with its ground truth."""
    from lifetide.synth import SynthConfig, generate  # the generator pulls in numpy

    settings = state_of(ctx).settings()
    target = out or settings.data_dir / "synth"
    config_args: dict[str, object] = {"customers": customers, "seed": seed, "years": years}
    if end is not None:
        config_args["end"] = end.date()
    config = SynthConfig(**config_args)  # type: ignore[arg-type]
    started = time.perf_counter()
    with stage_bars() as update:
        summary = generate(config, target, on_progress=update)
    table = RichTable(title=f"Generated in {time.perf_counter() - started:.1f} s → {target}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in summary.rows.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)


def import_(
    ctx: typer.Context,
    table: Annotated[str, typer.Argument(help=TABLE_HELP)],
    path: Annotated[Path, typer.Argument(help="CSV or Parquet file (a folder with 'all').")],
) -> None:
    """Import a CSV or Parquet file into a warehouse table: checked first, all or nothing."""
    if table != "all" and table not in IMPORT_ORDER:
        fail(f"unknown table {table!r}; choose one of {', '.join(IMPORT_ORDER)} or 'all'", 2)
    with state_of(ctx).lifetide() as app:
        try:
            jobs = files_in(path) if table == "all" else [(table, path)]
        except ImportRejected as err:
            fail(err.describe())
        for name, file in jobs:
            result = import_one(app, name, file)
            if result is None:
                raise typer.Exit(1)


def import_one(app: Lifetide, table: str, path: Path) -> ImportResult | None:
    """Import one file, print what it did or why not, and log it; None if rejected."""
    log = ImportLog(app.sessions)
    started = app.clock.now()
    with console.status(f"importing {path.name} into {table}") as status:
        try:
            result = import_file(
                app.warehouse,
                table,
                path,
                max_problems=app.settings.import_max_errors,
                on_stage=lambda stage: status.update(f"{table}: {stage} {path.name}"),
            )
        except ImportRejected as err:
            sha = sha256_of(path) if path.is_file() else ""
            log.rejected(table, path, sha, err, started, app.clock.now())
            errors.print(
                f"[bold red]rejected:[/] {path} was not imported into {table} "
                f"({err.total:,} problem(s)); nothing was changed.",
                highlight=False,
            )
            errors.print(err.describe(limit=app.settings.import_max_errors), highlight=False)
            return None
    earlier = log.last_success(table, result.sha256)
    log.succeeded(result, started, app.clock.now())
    if table == "events" and result.changed:
        # Messages read carts and views from the operational database's copy of them.
        with console.status("copying recent cart and view events for messages"):
            app.activity.copy_from(app.warehouse)
    c = result.counts
    console.print(
        f"[green]{table}[/]: {result.rows:,} rows from {path.name}: "
        f"{c.inserted:,} new, {c.updated:,} updated, {c.unchanged:,} unchanged",
        highlight=False,
    )
    if earlier is not None and not result.changed:
        console.print(
            f"  (the same file was imported before, on {earlier.started_at:%Y-%m-%d %H:%M})"
        )
    return result


def imports(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="How many to show.")] = 20,
) -> None:
    """List recent imports, successful and rejected."""
    with state_of(ctx).lifetide() as app:
        runs = ImportLog(app.sessions).recent(limit)
    table = RichTable(title="Recent imports")
    for col in ("when", "table", "file", "status", "rows", "new", "updated", "problems"):
        table.add_column(col)
    for r in runs:
        table.add_row(
            f"{r.started_at:%Y-%m-%d %H:%M:%S}",
            r.table_name,
            Path(r.file_name).name,
            r.status,
            f"{r.rows_in_file:,}",
            f"{r.inserted:,}",
            f"{r.updated:,}",
            f"{r.error_count:,}",
        )
    console.print(table)


def refresh_activity(ctx: typer.Context) -> None:
    """Copy the warehouse's recent cart and view events to where messages read them."""
    with state_of(ctx).lifetide() as app:
        added = app.activity.copy_from(app.warehouse)
        expired = app.activity.expire()
    days = app.settings.activity_retention_days
    console.print(
        f"recent activity: {added:,} event(s) of the last {days} days added, "
        f"{expired:,} older one(s) removed",
        highlight=False,
    )


def summary(ctx: typer.Context) -> None:
    """Print the retailer at a glance: customers, orders by channel, revenue, top products."""
    with state_of(ctx).lifetide() as app:
        print_summary(summarize(app.warehouse))


def print_summary(s: Summary) -> None:
    """Render a Summary as tables on the console."""
    if s.first_order is None:
        console.print(
            "The warehouse holds no orders yet: try `lifetide demo` or `lifetide import`."
        )
    head = RichTable(title="Retailer summary", show_header=False)
    head.add_row("customer records", f"{s.customer_records:,}")
    head.add_row("customers who bought", f"{s.buying_customers:,}")
    head.add_row("repeat rate (2+ orders)", f"{s.repeat_rate:.1%}")
    head.add_row("products", f"{s.products:,}")
    head.add_row("events", f"{s.events:,}")
    if s.first_order and s.last_order:
        head.add_row("orders from", f"{s.first_order:%Y-%m-%d} to {s.last_order:%Y-%m-%d}")
    console.print(head)

    channels = RichTable(title="Orders by channel")
    for col, justify in (("channel", "left"), ("orders", "right"), ("revenue", "right")):
        channels.add_column(col, justify=justify)  # type: ignore[arg-type]
    for c in s.channels:
        channels.add_row(c.channel, f"{c.orders:,}", f"{c.revenue:,.2f}")
    console.print(channels)

    months = RichTable(title="Revenue by month")
    months.add_column("month")
    months.add_column("revenue", justify="right")
    for month, revenue in s.revenue_by_month:
        months.add_row(month, f"{revenue:,.2f}")
    console.print(months)

    categories = RichTable(title="Revenue by category (net of line discounts)")
    categories.add_column("category")
    categories.add_column("revenue", justify="right")
    for category, revenue in s.revenue_by_category:
        categories.add_row(category, f"{revenue:,.2f}")
    console.print(categories)

    top = RichTable(title="Top products")
    for col, justify in (
        ("product", "left"),
        ("name", "left"),
        ("units", "right"),
        ("revenue", "right"),
    ):
        top.add_column(col, justify=justify)  # type: ignore[arg-type]
    for product_id, name, units, revenue in s.top_products:
        top.add_row(product_id, name, f"{units:,}", f"{revenue:,.2f}")
    console.print(top)
