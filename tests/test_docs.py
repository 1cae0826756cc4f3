"""The docs stay true: every command, option, setting and column is documented."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main

from lifetide.cli.app import app
from lifetide.ops.models import Base
from lifetide.settings import Settings
from lifetide.warehouse.schema import TABLES

DOCS = Path(__file__).resolve().parents[1] / "docs"
README = Path(__file__).resolve().parents[1] / "README.md"


def _sections(path: Path, level: str, within: str | None = None) -> dict[str, str]:
    """Sections of a markdown file by heading text (backticks removed), optionally in one part."""
    text = path.read_text(encoding="utf-8")
    if within is not None:
        start = text.index(within)
        end = text.find("\n## ", start + len(within))
        text = text[start : end if end >= 0 else None]
    parts = re.split(rf"^{level} (.+)$", text, flags=re.MULTILINE)
    return {parts[i].strip().strip("`"): parts[i + 1] for i in range(1, len(parts), 2)}


def _commands(group: Any, prefix: str = "lifetide") -> list[tuple[str, Any]]:
    # Typer vendors click privately; walk its command tree by shape, not by class.
    found: list[tuple[str, Any]] = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if hasattr(command, "commands"):
            found.extend(_commands(command, path))
        else:
            found.append((path, command))
    return found


COMMANDS = _commands(typer.main.get_command(app))


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_command_and_option_is_in_the_cli_reference(path: str, command: Any) -> None:
    sections = _sections(DOCS / "cli.md", "##")
    assert path in sections, f"docs/cli.md has no section '## `{path}`'"
    for param in command.params:
        if param.param_type_name == "option":
            for opt in param.opts:
                if opt.startswith("--"):
                    assert opt in sections[path], f"docs/cli.md: {path} does not mention {opt}"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`LIFETIDE_{name.upper()}`" in text, (
            f"docs/settings.md lacks LIFETIDE_{name.upper()}"
        )


def test_every_warehouse_column_is_documented() -> None:
    sections = _sections(DOCS / "data-model.md", "###", within="## Warehouse tables")
    for name, table in TABLES.items():
        assert name in sections, f"docs/data-model.md has no section for warehouse table {name}"
        for column in table.column_names:
            assert f"`{column}`" in sections[name], f"docs/data-model.md: {name}.{column} missing"


def test_every_operational_column_is_documented() -> None:
    sections = _sections(DOCS / "data-model.md", "###", within="## Operational tables")
    for name, table in Base.metadata.tables.items():
        assert name in sections, f"docs/data-model.md has no section for operational table {name}"
        for column in table.columns:
            assert f"`{column.name}`" in sections[name], (
                f"docs/data-model.md: {name}.{column.name} missing"
            )


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one() -> None:
    readme = README.read_text(encoding="utf-8")
    quick = readme[: readme.index("\n## ", readme.index("## Quick start") + 1)]
    assert "scripts/demo" in quick and "scripts/test" in quick
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^exec scripts/test\s*$", ci, flags=re.MULTILINE)
