"""One synthetic retailer per test session, shared read-only by the synth tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest

from lifetide.synth import SynthConfig, SynthSummary, generate

# 40,000 persons (two chunks): ~34,000 buyers, enough for BG/NBD standard errors of a few
# percent, generated in a few seconds.
CONFIG = SynthConfig(customers=40_000, seed=7)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> SynthSummary:
    """The generated data set and its row counts."""
    return generate(CONFIG, tmp_path_factory.mktemp("synth"))


@pytest.fixture(scope="session")
def params(synth: SynthSummary) -> dict[str, Any]:
    """truth/params.json."""
    loaded: dict[str, Any] = json.loads((synth.out_dir / "truth" / "params.json").read_text())
    return loaded


@pytest.fixture(scope="session")
def db(synth: SynthSummary) -> Iterator[duckdb.DuckDBPyConnection]:
    """DuckDB with a view per table (truth tables as truth_<name>)."""
    con = duckdb.connect()
    for path in sorted(synth.out_dir.glob("*.parquet")):
        con.execute(f"CREATE VIEW {path.stem} AS SELECT * FROM read_parquet('{path}')")
    for path in sorted((synth.out_dir / "truth").glob("*.parquet")):
        con.execute(f"CREATE VIEW truth_{path.stem} AS SELECT * FROM read_parquet('{path}')")
    yield con
    con.close()


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    """The single value a query returns."""
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]
