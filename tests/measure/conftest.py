"""An in-memory DuckDB through Ibis, where the measurement expressions run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ibis
import pytest


@pytest.fixture(scope="module")
def con() -> Iterator[Any]:
    """A DuckDB backend for one test module."""
    backend = ibis.duckdb.connect()
    yield backend
    backend.disconnect()
