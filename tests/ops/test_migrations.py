"""Migrations bring an empty database to the models' schema and back, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import IntegrityError

from lifetide.ops.database import (
    current_revision,
    downgrade,
    head_revision,
    session_factory,
    transaction,
    upgrade,
)
from lifetide.ops.models import Base, Consent, Customer, Identity

NOW = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    name = "sqlite_engine" if request.param == "sqlite" else "postgres_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


def test_upgrade_from_empty_matches_the_models(engine: Engine) -> None:
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_to_base_removes_every_table_and_upgrade_again_works(engine: Engine) -> None:
    upgrade(engine)
    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert {"customers", "identities", "consents", "import_runs"} <= set(
        inspect(engine).get_table_names()
    )


def test_profiles_round_trip_and_identities_are_unique(engine: Engine) -> None:
    upgrade(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        person = Customer(
            email="ana@example.com", traits={"vip": True}, created_at=NOW, updated_at=NOW
        )
        person.identities.append(
            Identity(kind="email", value="ana@example.com", first_seen_at=NOW, last_seen_at=NOW)
        )
        person.consents.append(Consent(channel="email", status="granted", updated_at=NOW))
        session.add(person)
    with sessions() as session:
        stored = session.scalars(select(Customer)).one()
        assert stored.traits == {"vip": True}
        assert [i.value for i in stored.identities] == ["ana@example.com"]
        assert stored.created_at.astimezone(dt.UTC) == NOW
    with pytest.raises(IntegrityError), transaction(sessions) as session:
        other = Customer(created_at=NOW, updated_at=NOW, traits={})
        other.identities.append(
            Identity(kind="email", value="ana@example.com", first_seen_at=NOW, last_seen_at=NOW)
        )
        session.add(other)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
