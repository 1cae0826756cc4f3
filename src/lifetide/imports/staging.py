"""Reading an import file into DuckDB as-is, numbered by row, before any checking."""

from __future__ import annotations

import difflib
import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lifetide.imports.casting import cast_expression, quote
from lifetide.imports.files import FileFormat
from lifetide.imports.problems import ImportRejected, Problem
from lifetide.warehouse.schema import Table

ROW = "__lifetide_row"
RAW = "__lifetide_raw"
TYPED = "__lifetide_typed"
_CSV_TABLE = "__lifetide_csv"
RAW_PREFIX = "raw_"


@dataclass(frozen=True)
class Staged:
    """A file staged as the view RAW (values as read) and TYPED (warehouse types), numbered."""

    rows: int
    source_types: dict[str, str]


def stage(con: Any, table: Table, path: Path, fmt: FileFormat) -> Staged:
    """Stage `path` for `table`; header problems reject it before any row is checked."""
    name = str(path)
    try:
        if fmt == "parquet":
            relation = con.read_parquet(str(path), file_row_number=True)
            relation.project(
                f"* EXCLUDE (file_row_number), file_row_number + 1 AS {ROW}"
            ).create_view(RAW, replace=True)
        else:
            relation = con.read_csv(
                str(path),
                header=True,
                all_varchar=True,
                strict_mode=True,
                null_padding=False,
                delimiter=header_delimiter(path),
            )
            # CSV is parsed once into a temporary table; insertion order is kept, so
            # rowid + 1 is the data row's number in the file.
            relation.create_view(f"{_CSV_TABLE}_source", replace=True)
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {_CSV_TABLE} AS SELECT * FROM {_CSV_TABLE}_source"
            )
            numbered = f"SELECT *, rowid + 1 AS {ROW} FROM {_CSV_TABLE}"
            con.execute(f"CREATE OR REPLACE TEMP VIEW {RAW} AS {numbered}")
        described = con.execute(f"DESCRIBE SELECT * FROM {RAW}").fetchall()
    except Exception as err:  # DuckDB reports unreadable files with many exception types
        reason = f"cannot be read as {fmt.upper()}: {_first_line(err)}"
        raise ImportRejected([Problem(name, reason)]) from None

    source_types = {str(r[0]): str(r[1]) for r in described if r[0] != ROW}
    _check_header(table, name, list(source_types))
    rows = int(con.execute(f"SELECT count(*) FROM {RAW}").fetchone()[0])
    if rows == 0:
        raise ImportRejected([Problem(name, "has a header but no rows")])

    # TYPED holds each column twice: as read (raw_<name>) and converted (<name>), so the
    # checks compare them in one scan instead of joining two 30-million-row views.
    columns = ", ".join(
        f"{raw_or_null(c.name, source_types)} AS {quote(RAW_PREFIX + c.name)}, "
        f"{cast_expression(c, source_types.get(c.name))} AS {quote(c.name)}"
        for c in table.columns
    )
    con.execute(f"CREATE OR REPLACE TEMP VIEW {TYPED} AS SELECT {ROW}, {columns} FROM {RAW}")
    return Staged(rows=rows, source_types=source_types)


def raw_or_null(name: str, source_types: dict[str, str]) -> str:
    """The staged column as read, or NULL when the file does not have it."""
    return quote(name) if name in source_types else "NULL"


def header_delimiter(path: Path) -> str:
    """The delimiter of a CSV file, judged from its header line alone.

    DuckDB's sniffer weighs every row, so one ragged row can make it pick another
    delimiter and report a confusing one-column file; the header is what the user wrote.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
        header = handle.readline()
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def cleanup(con: Any) -> None:
    """Drop the staging views and tables."""
    for view in (TYPED, RAW, f"{_CSV_TABLE}_source"):
        con.execute(f"DROP VIEW IF EXISTS {view}")
    con.execute(f"DROP TABLE IF EXISTS {_CSV_TABLE}")


def _check_header(table: Table, name: str, columns: list[str]) -> None:
    problems: list[Problem] = []
    known = set(table.column_names)
    present = set(columns)
    for column in columns:
        if column not in known:
            close = difflib.get_close_matches(column, table.column_names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(
                Problem(name, f"unknown column for table {table.name}{hint}", column=column)
            )
    for c in table.columns:
        if not c.nullable and c.name not in present:
            problems.append(Problem(name, "required column is missing", column=c.name))
    if problems and not present & known:
        expected = ", ".join(table.column_names)
        problems.insert(
            0,
            Problem(
                name,
                f"no column matches table {table.name}: is this a CSV file with a header "
                f"row? Expected columns: {expected}",
            ),
        )
    if problems:
        raise ImportRejected(problems)


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
