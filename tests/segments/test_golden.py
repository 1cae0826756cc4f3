"""Golden answers: every node type on a fixed sample gives the same members on every backend.

The compiler emits one Ibis expression; each backend we support as a warehouse must run it to
the same member set: DuckDB (the embedded default) and PostgreSQL (through Ibis).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import ibis
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from lifetide.segments.compiler import members
from lifetide.segments.rules import Definition
from lifetide.segments.tables import Tables
from tests.segments.cases import CASES
from tests.segments.shop import NOW, load_shop


@pytest.fixture(scope="module")
def duckdb_shop() -> Iterator[Tables]:
    backend = ibis.duckdb.connect()
    yield load_shop(backend)
    backend.disconnect()


@pytest.fixture(scope="module")
def postgres_shop(postgres_url: str) -> Iterator[Tables]:
    schema = f"lt_golden_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(postgres_url)
    backend = ibis.postgres.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database,
        schema=schema,
    )
    try:
        yield load_shop(backend, database=schema)
    finally:
        backend.disconnect()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def answers(tables: Tables) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for name, rule, _ in CASES:
        definition = Definition.model_validate({"root": rule})
        result = members(definition.root, tables, NOW).to_pyarrow()
        out[name] = set(result.column("profile_id").to_pylist())
    return out


EXPECTED = {name: expected for name, _, expected in CASES}


def test_duckdb_gives_the_golden_answers(duckdb_shop: Tables) -> None:
    assert answers(duckdb_shop) == EXPECTED


@pytest.mark.postgres
def test_postgresql_gives_the_golden_answers(postgres_shop: Any) -> None:
    got = answers(postgres_shop)
    wrong = {name: (got[name], EXPECTED[name]) for name in EXPECTED if got[name] != EXPECTED[name]}
    assert not wrong, f"PostgreSQL differs (got, expected): {wrong}"
