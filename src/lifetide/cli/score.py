"""`lifetide score` and `lifetide report models`: predictions for everyone, and their proof."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table as RichTable

from lifetide.cli.progress import stage_bars
from lifetide.cli.state import console, fail, state_of

report_app = typer.Typer(help="Reports on the models and their data.")


def score(
    ctx: typer.Context,
    as_of: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Score as of the end of this day (default today)."),
    ] = None,
    clv_months: Annotated[
        int, typer.Option(min=1, max=120, help="Months of customer lifetime value.")
    ] = 12,
    discount_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Annual discount rate of the CLV.")
    ] = 0.10,
    recommendations: Annotated[
        int, typer.Option(min=1, max=100, help="Products recommended per customer.")
    ] = 10,
    evaluate: Annotated[
        bool,
        typer.Option(
            "--evaluate/--no-evaluate",
            help="Also test each model on a time split (for the report); slower.",
        ),
    ] = True,
) -> None:
    """Build features, fit every model and write predictions and recommendations."""
    from lifetide.scoring.pipeline import ScoreError, ScoreOptions, Scorer
    from lifetide.scoring.profiles import NoProfiles

    started = time.perf_counter()
    with state_of(ctx).lifetide() as app:
        options = ScoreOptions(
            as_of=as_of.date() if as_of is not None else app.clock.now().date(),
            clv_months=clv_months,
            annual_discount_rate=discount_rate,
            recommendations=recommendations,
            evaluate=evaluate,
        )
        try:
            with stage_bars() as update:
                result = Scorer(app, options, update).run()
        except (ScoreError, NoProfiles) as err:
            fail(str(err))
        report = app.settings.data_dir / "reports" / "models.json"
    _print_result(result)
    console.print(
        f"Done in {time.perf_counter() - started:.0f} s. Tables: predictions, recommendations, "
        f"bought_together, replenishment, product_intervals. Report data: {report}; "
        "render it with `lifetide report models`."
    )


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_shown(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _print_result(result: Any) -> None:
    console.print(
        f"Scored {result.profiles:,} profiles ({result.buyers:,} buyers) as of {result.as_of}."
    )
    table = RichTable(title="Held-out figures and stage times", show_header=True)
    table.add_column("model")
    table.add_column("figures")
    for name, figures in result.metrics.items():
        if isinstance(figures, dict):
            if name == "recommendations":
                for method, metrics in figures.items():
                    table.add_row(f"recommendations: {method}", _shown(metrics))
            else:
                table.add_row(name, _shown(figures))
    console.print(table)
    for note in result.notes:
        console.print(f"note: {note}", highlight=False)


@report_app.command("models")
def report_models(
    ctx: typer.Context,
    out: Annotated[
        Path | None,
        typer.Option(help="Where to write the HTML (default DATA_DIR/reports/models.html)."),
    ] = None,
) -> None:
    """Write the model report of the last `lifetide score` run as one HTML file."""
    from lifetide.reports.models import render_models_report
    from lifetide.reports.store import ReportDataError, load_report

    data_dir = state_of(ctx).settings().data_dir
    source = data_dir / "reports" / "models.json"
    if not source.exists():
        fail(f"no model report data in {source}: run `lifetide score` first")
    try:
        report = load_report(source)
    except ReportDataError as err:
        fail(f"{source}: {err}")
    target = out or data_dir / "reports" / "models.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    render_models_report(report, target)
    console.print(f"Wrote {target} ({target.stat().st_size / 1024:.0f} KiB).")
