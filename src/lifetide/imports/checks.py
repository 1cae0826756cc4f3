"""Checks on a staged file: every problem found, each with its row and column.

Each check is one query over the staged views, so a file of tens of millions of rows is
checked in seconds and no problem is reported twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lifetide.imports.casting import EXPECTED, quote
from lifetide.imports.problems import Problem, show_value
from lifetide.imports.staging import RAW_PREFIX, ROW, TYPED
from lifetide.warehouse.schema import MONEY, Column, Table

# Lower bounds a value must meet, by column name; money is never negative.
_MINIMUM: dict[str, int] = {"quantity": 1, "line_number": 1, "replenish_days": 1}


@dataclass(frozen=True)
class Findings:
    """The first problems found, and how many there are in all."""

    problems: list[Problem]
    total: int


def check_rows(
    con: Any, table: Table, file: str, source_types: dict[str, str], limit: int
) -> Findings:
    """Type, required, allowed-value and range problems, in one scan of the file."""
    conditions: list[tuple[str, str, str]] = []  # (condition SQL, column, message SQL)
    for column in table.columns:
        conditions.extend(_row_conditions(column, source_types.get(column.name)))
    if not conditions:
        return Findings([], 0)
    structs = ", ".join(
        f"CASE WHEN {cond} THEN {{'column': '{col}', 'message': {msg}}} END"
        for cond, col, msg in conditions
    )
    found = (
        f"SELECT {ROW} AS row, unnest(list_filter([{structs}], x -> x IS NOT NULL)) AS p "
        f"FROM {TYPED} WHERE {' OR '.join(f'({c})' for c, _, _ in conditions)}"
    )
    total = int(con.execute(f"SELECT count(*) FROM ({found})").fetchone()[0])
    rows = con.execute(
        f"SELECT row, p.column, p.message FROM ({found}) ORDER BY row LIMIT {int(limit)}"
    ).fetchall()
    return Findings([Problem(file, msg, row=row, column=col) for row, col, msg in rows], total)


def _row_conditions(column: Column, source_type: str | None) -> list[tuple[str, str, str]]:
    typed = quote(column.name)
    raw = quote(RAW_PREFIX + column.name)
    out: list[tuple[str, str, str]] = []
    if source_type is None:
        return out
    expected = EXPECTED[column.dtype].replace("'", "''")
    out.append(
        (
            f"{raw} IS NOT NULL AND {typed} IS NULL",
            column.name,
            f"'expected {expected}, got ' || {_shown(raw)}",
        )
    )
    if not column.nullable:
        out.append((f"{raw} IS NULL", column.name, "'is required but empty'"))
    if column.choices:
        allowed = ", ".join(f"'{c}'" for c in column.choices)
        out.append(
            (
                f"{typed} IS NOT NULL AND {typed} NOT IN ({allowed})",
                column.name,
                f"'must be one of {', '.join(column.choices)}; got ' || {_shown(raw)}",
            )
        )
    minimum = 0 if column.dtype == MONEY else _MINIMUM.get(column.name)
    if minimum is not None:
        out.append(
            (
                f"{typed} < {minimum}",
                column.name,
                f"'must be at least {minimum}; got ' || {_shown(raw)}",
            )
        )
    return out


def _shown(raw: str) -> str:
    # Quote the offending value the way show_value does, in SQL, shortened to 40 characters.
    text = f"CAST({raw} AS VARCHAR)"
    return (
        f"'''' || CASE WHEN length({text}) > 40 THEN left({text}, 39) || '…' "
        f"ELSE {text} END || ''''"
    )


def check_duplicate_keys(con: Any, table: Table, file: str, limit: int) -> Findings:
    """Rows whose natural key appeared on an earlier row of the same file."""
    keys = ", ".join(quote(k) for k in table.key)
    not_null = " AND ".join(f"{quote(k)} IS NOT NULL" for k in table.key)
    # Find the duplicated keys with a grouping (spills to disk if it must), then fetch row
    # numbers for those few keys only: a window over every key would hold them all in memory.
    repeated = (
        f"SELECT {keys}, min({ROW}) AS first FROM {TYPED} WHERE {not_null} "
        f"GROUP BY {keys} HAVING count(*) > 1"
    )
    dupes = (
        f"SELECT t.{ROW} AS row, {', '.join(f't.{quote(k)}' for k in table.key)}, d.first "
        f"FROM {TYPED} t JOIN ({repeated}) d USING ({keys}) WHERE t.{ROW} <> d.first"
    )
    total = int(con.execute(f"SELECT count(*) FROM ({dupes})").fetchone()[0])
    found = (
        con.execute(f"SELECT * FROM ({dupes}) ORDER BY row LIMIT {int(limit)}").fetchall()
        if total
        else []
    )
    problems = []
    for row, *values, first in found:
        key = ", ".join(f"{k}={show_value(v)}" for k, v in zip(table.key, values, strict=True))
        problems.append(
            Problem(
                file, f"duplicate key {key}, first on row {first}", row=row, column=table.key[0]
            )
        )
    return Findings(problems, total)


def check_references(con: Any, table: Table, file: str, limit: int) -> Findings:
    """Rows that name a customer, order or product the warehouse does not have."""
    problems: list[Problem] = []
    total = 0
    for ref in table.references:
        col = quote(ref.column)
        missing = (
            f"SELECT {ROW} AS row, {col} AS value FROM {TYPED} t WHERE {col} IS NOT NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {quote(ref.table)} x "
            f"WHERE x.{quote(ref.target)} = t.{col})"
        )
        count = int(con.execute(f"SELECT count(*) FROM ({missing})").fetchone()[0])
        total += count
        room = max(limit - len(problems), 0)
        for row, value in con.execute(f"{missing} ORDER BY row LIMIT {room}").fetchall():
            problems.append(
                Problem(
                    file,
                    f"unknown {ref.target} {show_value(value)}: not in {ref.table} "
                    f"(import {ref.table} first)",
                    row=row,
                    column=ref.column,
                )
            )
    return Findings(problems, total)
