"""What every command shares: settings from the root options, and the console."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console

from lifetide.context import Lifetide
from lifetide.settings import Settings, SettingsError, load_settings

console = Console()
errors = Console(stderr=True, soft_wrap=True)


@dataclass
class CliState:
    """Options given before the command, applied over the environment's settings."""

    overrides: dict[str, Any] = field(default_factory=dict)

    def settings(self) -> Settings:
        """Settings with the root options applied; a bad setting exits with its reason."""
        try:
            return load_settings(**self.overrides)
        except (SettingsError, ValueError) as err:
            fail(f"settings: {err}")

    def lifetide(self) -> Lifetide:
        """The wired application for this command."""
        return Lifetide(self.settings())


def state_of(ctx: typer.Context) -> CliState:
    """The CliState the root command stored."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, CliState) else CliState()


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `message` as an error and exit with `code`."""
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def data_dir_option(value: Path | None) -> Path | None:
    """Validate --data-dir: it may not be an existing file."""
    if value is not None and value.exists() and not value.is_dir():
        raise typer.BadParameter(f"{value} exists and is not a folder")
    return value
