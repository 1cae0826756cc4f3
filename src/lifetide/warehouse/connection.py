"""Opening the warehouse (an Ibis backend) and making sure its tables exist."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import ibis
import ibis.expr.types as ir

from lifetide.warehouse.schema import TABLES, Table

_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


def checked_memory_limit(value: str) -> str:
    """A DuckDB memory limit like '4GB', or ValueError saying what is expected."""
    if not _MEMORY.match(value):
        raise ValueError(f"memory limit {value!r} must look like 4GB, 512MB or 2GiB")
    return value.strip()


def ibis_schema(table: Table) -> ibis.Schema:
    """The Ibis schema of a warehouse table; `!` marks a column that may not be null."""
    return ibis.schema({c.name: (c.dtype if c.nullable else f"!{c.dtype}") for c in table.columns})


class Warehouse:
    """The analytical store: one Ibis connection and the Lifetide tables in it."""

    def __init__(self, url: str, *, memory_limit: str | None = None) -> None:
        if url.startswith("duckdb://"):
            path = url.removeprefix("duckdb://")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.backend: Any = ibis.connect(url)
        self._local = threading.local()
        self._cursor_lock = threading.Lock()
        if self.is_duckdb:
            # Timestamps are stored as UTC; a session zone other than UTC would shift
            # every conversion from text with an offset.
            self.duckdb.execute("SET TimeZone = 'UTC'")
            # DuckDB draws its own bar on stdout for long queries, through ours.
            self.duckdb.execute("SET enable_progress_bar = false")
            if memory_limit:
                # SET takes no parameters; the value is checked against a strict pattern.
                self.duckdb.execute(f"SET memory_limit = '{checked_memory_limit(memory_limit)}'")

    @property
    def is_duckdb(self) -> bool:
        """Whether the warehouse is DuckDB (bulk import needs it)."""
        return bool(self.backend.name == "duckdb")

    @property
    def duckdb(self) -> Any:
        """The DuckDB connection for the calling thread (bulk loading, raw SQL).

        The main thread gets the connection itself; any other thread (the worker, request
        handlers) its own cursor of it, because a DuckDB connection must not be used by two
        threads at once. A cursor is a separate connection to the same database.
        """
        if not self.is_duckdb:
            raise RuntimeError(f"the warehouse at {self.url} is not DuckDB")
        if threading.current_thread() is threading.main_thread():
            return self.backend.con
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._new_cursor()
            self._local.cursor = cursor
        return cursor

    def thread_backend(self) -> Any:
        """An Ibis backend for the calling thread, on the same connection as `duckdb`."""
        if not self.is_duckdb or threading.current_thread() is threading.main_thread():
            return self.backend
        backend = getattr(self._local, "backend", None)
        if backend is None:
            backend = ibis.duckdb.from_connection(self.duckdb)
            self._local.backend = backend
        return backend

    def _new_cursor(self) -> Any:
        with self._cursor_lock:
            cursor = self.backend.con.cursor()
        cursor.execute("SET TimeZone = 'UTC'")
        cursor.execute("SET enable_progress_bar = false")
        return cursor

    def private_backend(self) -> tuple[Any, Any]:
        """A new Ibis backend on its own DuckDB cursor, and the cursor (to interrupt or close).

        For work another thread may need to stop, such as a live count the Studio no longer
        wants: `cursor.interrupt()` ends its query at once.
        """
        if not self.is_duckdb:
            return self.backend, None
        cursor = self._new_cursor()
        return ibis.duckdb.from_connection(cursor), cursor

    def ensure_tables(self) -> None:
        """Create any missing Lifetide table (existing ones are left as they are)."""
        existing = set(self.backend.list_tables())
        for name, spec in TABLES.items():
            if name not in existing:
                self.backend.create_table(name, schema=ibis_schema(spec))

    def table(self, name: str) -> ir.Table:
        """The Ibis table expression for a warehouse table."""
        return self.backend.table(name)

    def count(self, name: str) -> int:
        """Number of rows in a table."""
        return int(self.table(name).count().to_pyarrow().as_py())

    def close(self) -> None:
        """Close the connection."""
        self.backend.disconnect()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
