"""`among`: one membership test that is `IN` on SQLite and `= ANY(array)` on PostgreSQL."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, select

from lifetide.ops.database import among

_META = MetaData()
_ROWS = Table("among_rows", _META, Column("id", Integer, primary_key=True), Column("v", String))
_VALUES = {i: f"v{i % 7}" if i % 5 else f"O'Brien-{i}" for i in range(1, 301)}


def _filled(engine: Engine) -> None:
    _META.create_all(engine)
    with engine.begin() as connection:
        if connection.execute(select(_ROWS.c.id).limit(1)).first() is None:
            connection.execute(_ROWS.insert(), [{"id": i, "v": v} for i, v in _VALUES.items()])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ids=st.lists(st.integers(-5, 320), max_size=60),
    texts=st.lists(st.sampled_from([*set(_VALUES.values()), "absent", ""]), max_size=5),
)
def test_among_selects_what_in_selects_on_either_store(
    engine: Engine, ids: list[int], texts: list[str]
) -> None:
    _filled(engine)
    with engine.connect() as connection:
        by_id = connection.scalars(select(_ROWS.c.id).where(among(connection, _ROWS.c.id, ids)))
        by_text = connection.scalars(select(_ROWS.c.id).where(among(connection, _ROWS.c.v, texts)))
        assert set(by_id) == {i for i in ids if i in _VALUES}
        assert set(by_text) == {i for i, v in _VALUES.items() if v in texts}


def test_postgresql_gets_one_array_parameter_and_sqlite_an_in_list(engine: Engine) -> None:
    _filled(engine)
    with engine.connect() as connection:
        compiled = select(_ROWS.c.id).where(among(connection, _ROWS.c.id, range(500)))
        sql = str(compiled.compile(connection))
    postgres = engine.dialect.name == "postgresql"
    assert ("= ANY (" in sql) is postgres and (" IN (" in sql) is not postgres
