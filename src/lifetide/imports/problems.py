"""What is wrong with an import file, said precisely enough to fix it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem: the file, the data row (1 = first row after the header), column, what."""

    file: str
    message: str
    row: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}"


class ImportRejected(Exception):
    """The file was not imported because of `problems`; nothing was written."""

    def __init__(self, problems: list[Problem], total: int | None = None) -> None:
        self.problems = problems
        self.total = total if total is not None else len(problems)
        super().__init__(self.describe())

    def describe(self, limit: int = 20) -> str:
        """The problems as lines, at most `limit` of them, then how many more."""
        lines = [str(p) for p in self.problems[:limit]]
        more = self.total - len(lines)
        if more > 0:
            lines.append(f"... and {more:,} more problem(s)")
        return "\n".join(lines)


def show_value(value: object, width: int = 40) -> str:
    """A value as it appears in a message: quoted, and shortened if long."""
    text = str(value)
    if len(text) > width:
        text = text[: width - 1] + "…"
    return repr(text)
