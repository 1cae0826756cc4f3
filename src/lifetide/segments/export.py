"""A segment's members as CSV, streamed in batches so a million rows never sit in memory.

The columns are profile contact traits and, once `lifetide score` has run, any predictions
column. Text that a spreadsheet would run as a formula (a customer can type `=HYPERLINK(...)`
as their name) is prefixed with `'`, as OWASP advises for CSV injection.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import closing
from decimal import Decimal
from typing import Any

import ibis.expr.types as ir

from lifetide.segments.tables import Tables, segment_tables
from lifetide.warehouse.connection import Warehouse

EXPORT_COLUMNS: tuple[str, ...] = (
    "profile_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "country",
    "city",
)
BATCH_ROWS = 10_000
_FORMULA_START = frozenset("=@\t\r")
# A leading + or - is harmless in a plain number or phone number (+14155550101, -2.5).
_PLAIN_NUMBER = re.compile(r"^[+-]?[\d .()]*$")


class ExportError(ValueError):
    """The export asked for a column there is not."""


def allowed_columns(tables: Tables) -> list[str]:
    """The columns an export may have: profile traits, then every predictions column."""
    allowed = list(EXPORT_COLUMNS)
    if tables.predictions is not None:
        allowed += [c for c in tables.predictions.columns if c not in allowed]
    return allowed


def checked_columns(tables: Tables, columns: Sequence[str] | None) -> list[str]:
    """The columns asked for, in order and without repeats; ExportError names unknown ones."""
    if not columns:
        return list(EXPORT_COLUMNS)
    allowed = allowed_columns(tables)
    unknown = [c for c in columns if c not in allowed]
    if unknown:
        raise ExportError(
            f"unknown export column(s) {', '.join(unknown)}; the columns are: {', '.join(allowed)}"
        )
    return list(dict.fromkeys(columns))


def export_query(tables: Tables, members: ir.Table, columns: Sequence[str]) -> ir.Table:
    """The members (live profiles only) with the given columns, in profile id order."""
    ids = members.select("profile_id").distinct()
    joined = ids.inner_join(tables.profiles, "profile_id")
    predicted = [c for c in columns if c not in EXPORT_COLUMNS]
    if predicted and tables.predictions is not None:
        scores = tables.predictions.select("profile_id", *predicted)
        joined = joined.left_join(scores, "profile_id")
    # Sorted before the projection: the sort key need not be exported.
    return joined.order_by("profile_id").select(*columns)


def export_csv(
    tables: Tables, members: ir.Table, columns: Sequence[str] | None = None
) -> Iterator[bytes]:
    """The members as UTF-8 CSV: a header row, then rows, a batch of rows per chunk.

    The columns are checked at once (ExportError, a ValueError), before the first chunk is
    asked for, so a web route can refuse the request instead of breaking off a download.
    """
    wanted = checked_columns(tables, columns)
    return _stream(export_query(tables, members, wanted), wanted)


def _stream(query: ir.Table, columns: list[str]) -> Iterator[bytes]:
    yield _csv_rows([columns])
    with closing(query.to_pyarrow_batches(chunk_size=BATCH_ROWS)) as reader:
        for batch in reader:
            rows = batch.to_pylist()
            yield _csv_rows([[csv_cell(row[c]) for c in columns] for row in rows])


def _csv_rows(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def csv_cell(value: Any) -> str:
    """A value as CSV text: empty for null, ISO 8601 times, JSON lists, safe text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)
    text = str(value)
    if text and (text[0] in _FORMULA_START or (text[0] in "+-" and not _PLAIN_NUMBER.match(text))):
        return "'" + text
    return text


def export_tables(warehouse: Warehouse) -> tuple[Tables, Any]:
    """Tables on a connection of the export's own, and the connection, to close when done.

    A streamed download is read across many threads and outlives its request; on the shared
    per-thread connection another request would run a query that ends the download's result.
    """
    backend, cursor = warehouse.private_backend()
    return segment_tables(backend), cursor


def closing_stream(chunks: Iterator[bytes], connection: Any) -> Iterator[bytes]:
    """The chunks, closing `connection` (if any) once they are read or the reader gives up."""
    try:
        yield from chunks
    finally:
        if connection is not None:
            connection.close()
