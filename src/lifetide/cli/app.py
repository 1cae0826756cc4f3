"""The `lifetide` command: root options and the list of commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lifetide import __version__
from lifetide.cli.data import import_, imports, refresh_activity, summary, synth
from lifetide.cli.db import db_app
from lifetide.cli.demo import demo
from lifetide.cli.experiments import experiment_app
from lifetide.cli.identity import identity_app, profile
from lifetide.cli.journeys import journey_app
from lifetide.cli.score import report_app, score
from lifetide.cli.segments import segment_app
from lifetide.cli.serve import load, serve, source_app
from lifetide.cli.simulate import simulate_command, worker_command
from lifetide.cli.state import CliState, console, data_dir_option
from lifetide.cli.users import token_app, user_app

app = typer.Typer(
    name="lifetide",
    help="Lifetide: customer data, predictions, segments and journeys for retailers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"lifetide {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            envvar="LIFETIDE_DATA_DIR",
            callback=data_dir_option,
            help="Folder of the embedded stores (default ./lifetide-data).",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Lifetide: customer data, predictions, segments and journeys for retailers."""
    overrides = {"data_dir": data_dir} if data_dir is not None else {}
    ctx.obj = CliState(overrides=overrides)


app.command()(demo)
app.command()(synth)
app.command("import")(import_)
app.command()(imports)
app.command("refresh-activity")(refresh_activity)
app.command()(summary)
app.command()(serve)
app.command()(load)
app.add_typer(source_app, name="source")
app.add_typer(identity_app, name="identity")
app.command()(profile)
app.command()(score)
app.add_typer(report_app, name="report")
app.add_typer(db_app, name="db")
app.add_typer(segment_app, name="segment")
app.add_typer(journey_app, name="journey")
app.add_typer(experiment_app, name="experiment")
app.command("simulate")(simulate_command)
app.command("worker")(worker_command)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")


def main() -> None:
    """Entry point of the `lifetide` script."""
    app()
