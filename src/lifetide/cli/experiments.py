"""`lifetide experiment ...`: analyze an experiment's table, size an experiment before it starts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table as RichTable

from lifetide.cli.state import console, fail
from lifetide.experiments.analysis import (
    Comparison,
    ExperimentResult,
    Interval,
    OutcomeResult,
    analyze,
    as_dict,
)
from lifetide.experiments.stats import sample_size

experiment_app = typer.Typer(help="Experiments: analyze a finished test, size a planned one.")

CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")


def _read(path: Path, columns: list[str]) -> Any:
    """The named columns of a CSV or Parquet file, as an Arrow table."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    name = path.name.lower()
    try:
        if name.endswith(PARQUET_SUFFIXES):
            available = pq.read_schema(path).names
            _check_columns(path, columns, available)
            return pq.read_table(path, columns=columns)
        if name.endswith(CSV_SUFFIXES):
            delimiter = "\t" if name.endswith(".tsv") else ","
            table = pa_csv.read_csv(
                path,
                parse_options=pa_csv.ParseOptions(delimiter=delimiter),
                # An empty arm is missing, not an arm named "".
                convert_options=pa_csv.ConvertOptions(strings_can_be_null=True),
            )
            _check_columns(path, columns, table.column_names)
            return table.select(columns)
    except (pa.ArrowInvalid, OSError) as err:
        fail(f"{path}: cannot read it: {err}")
    fail(f"{path}: not a CSV (.csv, .csv.gz, .tsv) or Parquet (.parquet, .pq) file")


def _check_columns(path: Path, wanted: list[str], available: list[str]) -> None:
    missing = [c for c in wanted if c not in available]
    if missing:
        fail(
            f"{path}: no column {', '.join(map(repr, missing))}; "
            f"its columns are {', '.join(available)}"
        )


def _weights(text: str | None, arms: tuple[str, ...]) -> dict[str, float] | None:
    """--weights as ARM=W pairs, or as plain numbers in report order (control first)."""
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        if all("=" in p for p in parts):
            pairs = [p.rsplit("=", 1) for p in parts]
            return {arm.strip(): float(weight) for arm, weight in pairs}
        if any("=" in p for p in parts):
            raise ValueError("mix of ARM=WEIGHT pairs and plain numbers")
        if len(parts) != len(arms):
            raise ValueError(
                f"{len(parts)} weights for {len(arms)} arms ({', '.join(arms)}, in this order)"
            )
        return {arm: float(p) for arm, p in zip(arms, parts, strict=True)}
    except ValueError as err:
        fail(f"--weights {text!r}: {err}")


def _pct(value: float, digits: int = 3) -> str:
    return f"{100 * value:.{digits}f}%"


def _signed_pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{100 * value:+.{digits}f}%"


def _p(value: float) -> str:
    return f"{value:.1e}" if value < 1e-3 else f"{value:.4f}"


def _share(value: float) -> str:
    # A Monte-Carlo share is never exactly certain: say how close it came.
    if value > 0.999:
        return ">99.9%"
    if value < 0.001:
        return "<0.1%"
    return _pct(value, 1)


def _ci(interval: Interval | None, shown: Any) -> str:
    return "n/a" if interval is None else f"[{shown(interval.low)}, {shown(interval.high)}]"


def _difference(outcome: OutcomeResult) -> Any:
    if outcome.kind == "conversion":
        return lambda v: f"{100 * v:+.3f}"
    return lambda v: f"{v:+.4f}"


def _arms_table(outcome: OutcomeResult, confidence: str) -> RichTable:
    conversion = outcome.kind == "conversion"
    table = RichTable(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("arm", no_wrap=True)
    table.add_column("n", justify="right", no_wrap=True)
    if conversion:
        table.add_column(outcome.name, justify="right", no_wrap=True)
    table.add_column("rate" if conversion else "mean", justify="right", no_wrap=True)
    table.add_column(f"{confidence} CI", justify="right", no_wrap=True)
    if not conversion:
        table.add_column("sd", justify="right", no_wrap=True)
    table.add_column("P(best)", justify="right", no_wrap=True)
    for arm in outcome.arms:
        if conversion:
            row = [f"{arm.successes:,}", _pct(arm.estimate), _ci(arm.interval, _pct)]
        else:
            row = [f"{arm.estimate:.4f}", _ci(arm.interval, lambda v: f"{v:.4f}")]
            row.append(f"{arm.sd:.4f}" if arm.sd is not None else "")
        table.add_row(escape(arm.arm), f"{arm.n:,}", *row, _share(arm.prob_best))
    return table


def _comparison_rows(outcome: OutcomeResult, c: Comparison) -> list[list[str]]:
    shown = _difference(outcome)
    rows = [
        [
            escape(c.arm),
            shown(c.difference),
            _ci(c.difference_interval, shown),
            _signed_pct(c.lift),
            _ci(c.lift_interval, _signed_pct),
            _p(c.p_value),
            escape(c.verdict.short),
        ]
    ]
    if outcome.kind == "revenue":
        # The bootstrap's intervals under the formula's, to read one against the other.
        rows.append(
            [
                "  bootstrap",
                "",
                _ci(c.bootstrap_difference_interval, shown),
                "",
                _ci(c.bootstrap_lift_interval, _signed_pct),
                "",
                "",
            ]
        )
    return rows


def _comparisons_table(outcome: OutcomeResult, control: str, confidence: str) -> RichTable:
    revenue = outcome.kind == "revenue"
    table = RichTable(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column(f"vs {escape(control)}", no_wrap=True)
    table.add_column("diff" if revenue else "diff (pp)", justify="right", no_wrap=True)
    table.add_column(f"{confidence} CI", justify="right", no_wrap=True)
    table.add_column("lift", justify="right", no_wrap=True)
    table.add_column(f"{confidence} CI", justify="right", no_wrap=True)
    table.add_column("p-value", justify="right", no_wrap=True)
    table.add_column("verdict")
    for comparison in outcome.comparisons:
        for row in _comparison_rows(outcome, comparison):
            table.add_row(*row)
    return table


def _print(path: Path, arm_column: str, result: ExperimentResult) -> None:
    confidence = f"{1 - result.alpha:.0%}"
    console.print(
        f"{escape(path.name)}: {result.rows:,} rows; arm column {escape(arm_column)}; control "
        f"{escape(result.control)}; {confidence} intervals (alpha {result.alpha:g})",
        highlight=False,
    )
    ratio = result.sample_ratio
    sizes = ", ".join(f"{escape(a)} {c:,}" for a, c in zip(ratio.arms, ratio.counts, strict=True))
    weights = ":".join(f"{w:g}" for w in ratio.weights)
    console.print(
        f"Sample ratio: {sizes} against planned weights {weights}: chi-square "
        f"{ratio.statistic:.2f}, p = {_p(ratio.p_value)} "
        + ("[bold red](MISMATCH)[/]" if ratio.mismatch else "(ok)"),
        highlight=False,
    )
    if result.planned is None:
        console.print(
            "Horizon: no planned size given (--planned), so this is read as the finished test.",
            highlight=False,
        )
    else:
        smallest = min(ratio.counts)
        reached = "reached" if smallest >= result.planned else "not reached yet"
        console.print(
            f"Horizon: {result.planned:,} recipients planned per arm; the smallest arm has "
            f"{smallest:,} ({smallest / result.planned:.0%}): {reached}.",
            highlight=False,
        )
    for warning in result.warnings:
        console.print(f"[bold red]warning:[/] {escape(warning)}", highlight=False)
    for outcome in result.outcomes:
        what = "rate" if outcome.kind == "conversion" else "mean per recipient"
        console.print(f"\n[bold]{escape(outcome.name)}[/] ({what})", highlight=False)
        console.print(_arms_table(outcome, confidence), highlight=False)
        console.print()
        console.print(_comparisons_table(outcome, result.control, confidence), highlight=False)
        methods = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in outcome.methods.items())
        console.print(f"[dim]{escape(methods)}[/]", highlight=False)


@experiment_app.command("analyze")
def analyze_command(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="The table: CSV or Parquet."
        ),
    ],
    arm: Annotated[str, typer.Option("--arm", help="The column naming each row's arm.")],
    control: Annotated[str, typer.Option("--control", help="The control arm's value.")],
    outcome: Annotated[
        list[str] | None,
        typer.Option(
            "--outcome", help="An outcome column (repeatable): 0/1 is a rate, else a mean."
        ),
    ] = None,
    revenue: Annotated[
        list[str] | None,
        typer.Option("--revenue", help="An outcome column analyzed as a mean (repeatable)."),
    ] = None,
    alpha: Annotated[
        float, typer.Option(min=0.0001, max=0.5, help="Significance level; CIs are 1 - alpha.")
    ] = 0.05,
    weights: Annotated[
        str | None,
        typer.Option(help="Planned allocation: 'A=1,B=1' or numbers in report order."),
    ] = None,
    planned: Annotated[
        int | None, typer.Option(min=1, help="Planned recipients per arm (the fixed horizon).")
    ] = None,
    resamples: Annotated[
        int, typer.Option(min=100, max=100_000, help="Bootstrap resamples for means.")
    ] = 2_000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap and of P(best).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the analysis as JSON.")] = False,
) -> None:
    """Analyze an experiment table: per-arm rates or means, lifts, P(best), SRM and verdicts."""
    outcomes = list(dict.fromkeys([*(outcome or []), *(revenue or [])]))
    if not outcomes:
        fail("name at least one outcome column with --outcome or --revenue")
    if arm in outcomes:
        fail(f"column {arm!r} is the arm; it cannot also be an outcome")
    table = _read(file, [arm, *outcomes])
    arms = table.column(arm)
    try:
        names = sorted({str(v) for v in arms.unique().to_pylist() if v is not None})
        order = (control, *(n for n in names if n != control))
        result = analyze(
            arms,
            {name: table.column(name) for name in outcomes},
            control=control,
            revenue=revenue or (),
            weights=_weights(weights, order),
            planned=planned,
            alpha=alpha,
            resamples=resamples,
            seed=seed,
        )
    except ValueError as err:
        fail(f"{file}: {escape(str(err))}")
    if as_json:
        print(json.dumps(as_dict(result), indent=2))
        return
    _print(file, arm, result)


@experiment_app.command("size")
def size_command(
    baseline: Annotated[
        float, typer.Option(help="The control's rate (0-1), or its mean with --sd.")
    ],
    mde: Annotated[
        float,
        typer.Option(help="Minimum detectable effect: absolute, or relative with --relative."),
    ],
    relative: Annotated[
        bool, typer.Option("--relative", help="The effect is a fraction of the baseline.")
    ] = False,
    sd: Annotated[
        float | None, typer.Option(help="Standard deviation of a mean outcome (e.g. revenue).")
    ] = None,
    alpha: Annotated[float, typer.Option(min=0.0001, max=0.5, help="Significance level.")] = 0.05,
    power: Annotated[float, typer.Option(min=0.5, max=0.9999, help="Power to detect it.")] = 0.8,
    arms: Annotated[int, typer.Option(min=2, max=100, help="Arms, for the total.")] = 2,
) -> None:
    """The recipients each arm needs before a test starts (its fixed horizon)."""
    try:
        n = sample_size(mde, baseline=baseline, sd=sd, relative=relative, alpha=alpha, power=power)
    except ValueError as err:
        fail(escape(str(err)))
    effect = baseline * mde if relative else mde
    if sd is None:
        change = (
            f"a rate of {_pct(baseline, 2)} changing to {_pct(baseline + effect, 2)} "
            f"({100 * effect:+.2f} points)"
        )
    else:
        change = f"a mean of {baseline:g} changing by {effect:+g} (sd {sd:g})"
    console.print(
        f"{n:,} recipients per arm ({n * arms:,} for {arms} arms) detect {change} with "
        f"{power:.0%} power, two-sided at alpha {alpha:g}. Read the test once, when every arm "
        "has reached this size.",
        highlight=False,
    )
